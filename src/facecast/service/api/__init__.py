"""The HTTP APIs: one module per dialect (``miraflow``, ``mirage``), thin views over one domain,
plus signed media URLs and the error mapping they share."""
