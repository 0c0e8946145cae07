"""email recipients: who unsubscribed themselves, and welcome notices still to send

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""
from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('subscriptions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('unsubscribed_recipients', sa.JSON(), nullable=False, server_default='[]'))
    with op.batch_alter_table('subscriptions', schema=None) as batch_op:
        batch_op.alter_column('unsubscribed_recipients', server_default=None)
    op.create_table('welcome_notices',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('subscription_id', sa.Integer(), nullable=False),
    sa.Column('address', sa.String(length=320), nullable=False),
    sa.Column('subscribed_by', sa.String(length=255), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['subscription_id'], ['subscriptions.id'],
                            name=op.f('fk_welcome_notices_subscription_id_subscriptions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_welcome_notices')),
    sa.UniqueConstraint('subscription_id', 'address', name=op.f('uq_welcome_notices_subscription_id'))
    )
    with op.batch_alter_table('welcome_notices', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_welcome_notices_subscription_id'), ['subscription_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('welcome_notices', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_welcome_notices_subscription_id'))
    op.drop_table('welcome_notices')
    with op.batch_alter_table('subscriptions', schema=None) as batch_op:
        batch_op.drop_column('unsubscribed_recipients')
