"""Every revision number handed to a signed export, and the audit head each export was recorded at.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "issued_revisions",
        sa.Column("town", sa.String(32), sa.ForeignKey("towns.name"), primary_key=True),
        sa.Column("quarter", sa.String(8), primary_key=True),
        sa.Column("revision", sa.Integer(), primary_key=True),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("issued_at", sa.String(40), nullable=False),
    )
    with op.batch_alter_table("quarter_status") as batch:
        batch.add_column(sa.Column("audit_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("audit_hash", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("quarter_status") as batch:
        batch.drop_column("audit_hash")
        batch.drop_column("audit_id")
    op.drop_table("issued_revisions")
