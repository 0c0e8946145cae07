"""subscription creator: a Slack user or an email address, each in its own column

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""
from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('subscriptions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('created_by_slack_user', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('created_by_email', sa.String(length=320), nullable=True))
    # `created_by` held either one: an address has an "@", anything else non-empty is a Slack user id.
    op.execute("UPDATE subscriptions SET created_by_email = created_by WHERE created_by LIKE '%@%'")
    op.execute(
        "UPDATE subscriptions SET created_by_slack_user = created_by "
        "WHERE created_by <> '' AND created_by NOT LIKE '%@%'"
    )
    with op.batch_alter_table('subscriptions', schema=None) as batch_op:
        batch_op.drop_column('created_by')


def downgrade() -> None:
    with op.batch_alter_table('subscriptions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('created_by', sa.String(length=255), nullable=False, server_default=''))
    op.execute(
        "UPDATE subscriptions SET created_by = COALESCE(created_by_slack_user, created_by_email, '')"
    )
    with op.batch_alter_table('subscriptions', schema=None) as batch_op:
        batch_op.alter_column('created_by', server_default=None)
        batch_op.drop_column('created_by_email')
        batch_op.drop_column('created_by_slack_user')
