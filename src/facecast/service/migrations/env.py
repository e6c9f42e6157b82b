"""Alembic environment: migrates the connection the caller passes (see facecast.service.db.migrate),
or, when run from the ``alembic`` command, the database the settings name."""

from __future__ import annotations

from alembic import context

from facecast.service import webhook_models  # noqa: F401 - its tables join the metadata
from facecast.service.models import Base

target_metadata = Base.metadata


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    from facecast.service.db import make_engine
    from facecast.service.settings import get_settings

    engine = make_engine(get_settings().sqlalchemy_url)
    with engine.connect() as conn:
        context.configure(connection=conn, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()


run_migrations_online()
