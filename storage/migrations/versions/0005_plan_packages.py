"""Plan packages the database imported (canonical content and hash), and the plan each quarter was entered under.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "plan_packages",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("content_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("first_quarter", sa.String(8), nullable=False),
        sa.Column("last_quarter", sa.String(8), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("origin", sa.String(16), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("imported_at", sa.String(40), nullable=False),
    )
    op.create_table(
        "quarter_plans",
        sa.Column("town", sa.String(32), sa.ForeignKey("towns.name"), primary_key=True),
        sa.Column("quarter", sa.String(8), primary_key=True),
        sa.Column("plan_name", sa.String(200), nullable=False),
        sa.Column("plan_id", sa.String(40), nullable=True),
        sa.Column("content_hash", sa.String(64), nullable=True),
        sa.Column("recorded_at", sa.String(40), nullable=False),
    )
    # Quarters entered before this revision were entered under the plan whose period holds them
    # (the shipped plan or a CSV split); they keep its name, their package id is not known here.
    op.execute(
        """
        INSERT INTO quarter_plans (town, quarter, plan_name, plan_id, content_hash, recorded_at)
        SELECT f.town, f.quarter, p.name, NULL, NULL, MIN(f.updated_at)
        FROM figures AS f JOIN plans AS p ON p.first_quarter <= f.quarter AND f.quarter <= p.last_quarter
        GROUP BY f.town, f.quarter, p.name
        """
    )


def downgrade() -> None:
    op.drop_table("quarter_plans")
    op.drop_table("plan_packages")
