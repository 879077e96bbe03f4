"""Keep the city root's signature with each imported plan package, so it can be verified again when read.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Packages imported before this revision have none: a town re-checks their content hash only,
    # the city refuses to trust them until the .plan file is imported again.
    with op.batch_alter_table("plan_packages") as batch:
        batch.add_column(sa.Column("signature", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("plan_packages") as batch:
        batch.drop_column("signature")
