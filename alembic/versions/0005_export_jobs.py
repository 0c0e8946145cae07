"""export jobs: exported_assets carries the request, its progress, its claim and who asked

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29
"""
from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('exported_assets', schema=None) as batch_op:
        batch_op.add_column(sa.Column('request', sa.JSON(), nullable=False, server_default='{}'))
        batch_op.add_column(sa.Column('claimed_by', sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column('lease_expires_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('attempts', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('rows_done', sa.BigInteger(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('truncated', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('filename', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('requested_by_slack_user', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('notified_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('started_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.drop_column('created_by')
        batch_op.create_index('ix_exported_assets_status_lease', ['status', 'lease_expires_at'], unique=False)
    with op.batch_alter_table('exported_assets', schema=None) as batch_op:
        for column in ('request', 'attempts', 'rows_done', 'truncated'):
            batch_op.alter_column(column, server_default=None)


def downgrade() -> None:
    with op.batch_alter_table('exported_assets', schema=None) as batch_op:
        batch_op.drop_index('ix_exported_assets_status_lease')
        batch_op.add_column(sa.Column('created_by', sa.String(length=255), nullable=False, server_default=''))
        for column in ('finished_at', 'started_at', 'notified_at', 'requested_by_slack_user', 'filename',
                       'truncated', 'rows_done', 'attempts', 'lease_expires_at', 'claimed_by', 'request'):
            batch_op.drop_column(column)
