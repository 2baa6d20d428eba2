"""The market's one modality list (``domain.market.modality``): entries and their versions' cards
that said "volume" now say "ct", "tabular" now "table" (and the other aliases likewise), so the
filter offers each kind of data once. Backward leaves the names as they are: the old spellings
were interchangeable and nothing reads them."""
from django.db import migrations

ALIASES = {"images": "image", "segmentation": "image", "volume": "ct", "ct_dicom": "ct", "ct_nifti": "ct",
           "dicom": "ct", "nifti": "ct", "tabular": "table", "tables": "table", "csv": "table"}


def forward(apps, schema_editor):
    MarketEntry = apps.get_model("builder", "MarketEntry")
    MarketEntryVersion = apps.get_model("builder", "MarketEntryVersion")
    for old, new in ALIASES.items():
        MarketEntry.objects.filter(modality=old).update(modality=new)
    for version in MarketEntryVersion.objects.filter(card__modality__in=list(ALIASES)).only("id", "card"):
        version.card = {**version.card, "modality": ALIASES[version.card["modality"]]}
        version.save(update_fields=["card"])


class Migration(migrations.Migration):

    dependencies = [("builder", "0009_deployments_are_jobs")]

    operations = [migrations.RunPython(forward, migrations.RunPython.noop)]
