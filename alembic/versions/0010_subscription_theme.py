"""subscription theme: a subscription's images drawn on the light or the dark palette

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-29
"""
from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Existing subscriptions keep the light images they have always had.
    with op.batch_alter_table('subscriptions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('theme', sa.String(length=8), nullable=False, server_default='light'))
    with op.batch_alter_table('subscriptions', schema=None) as batch_op:
        batch_op.alter_column('theme', server_default=None)


def downgrade() -> None:
    with op.batch_alter_table('subscriptions', schema=None) as batch_op:
        batch_op.drop_column('theme')
