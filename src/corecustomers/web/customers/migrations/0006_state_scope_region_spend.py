"""A region's states by spend: the manager's dashboard reads the top fifth's share from it
(an index range read backwards, stopping after the fifth) instead of sorting the region."""

from django.db import migrations, models
from django.db.models import Q


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0005_dashboard_cells"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="customerstate",
            index=models.Index(
                fields=["scope_region", "run_id", "total_spend"],
                condition=~Q(scope_region=""),
                name="state_scope_region_spend",
            ),
        ),
    ]
