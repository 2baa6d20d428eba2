"""A graph records the shipped template it was created from ("" for the graphs before, and for
those not made from a template), so the Train form can offer that template's run settings."""
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('builder', '0010_market_modality_names'),
    ]

    operations = [
        migrations.AddField(
            model_name='graph',
            name='template',
            field=models.CharField(blank=True, default='', max_length=100),
        ),
    ]
