"""The domain by resource: each module one resource's operations, composed into
``facecast.service.domain.Service``."""
