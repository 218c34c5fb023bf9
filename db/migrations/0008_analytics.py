from tortoise import migrations
from tortoise.migrations import operations as ops
from orjson import loads
from tortoise.fields.base import OnDelete
from tortoise.fields.data import JSON_DUMPS
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('tally', '0007_royalties')]

    initial = False

    operations = [
        ops.CreateModel(
            name='CustomerMrr',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('tenant', fields.ForeignKeyField('tally.Tenant', source_field='tenant_id', db_constraint=True, to_field='id', related_name='customer_mrr', on_delete=OnDelete.CASCADE)),
                ('customer', fields.ForeignKeyField('tally.Customer', source_field='customer_id', db_constraint=True, to_field='id', related_name='mrr', on_delete=OnDelete.CASCADE)),
                ('currency', fields.CharField(max_length=3)),
                ('mrr_minor', fields.BigIntField(default=0)),
                ('starts', fields.IntField(default=0)),
            ],
            options={'table': 'customer_mrr', 'app': 'tally', 'unique_together': (('customer', 'currency'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='MrrDaily',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('tenant', fields.ForeignKeyField('tally.Tenant', source_field='tenant_id', db_constraint=True, to_field='id', related_name='mrr_daily', on_delete=OnDelete.CASCADE)),
                ('currency', fields.CharField(max_length=3)),
                ('day', fields.DateField()),
                ('kind', fields.CharField(default='', max_length=16)),
                ('amount_minor', fields.BigIntField(default=0)),
                ('customers', fields.IntField(default=0)),
                ('movements', fields.IntField(default=0)),
            ],
            options={'table': 'mrr_daily', 'app': 'tally', 'unique_together': (('tenant', 'currency', 'day', 'kind'),), 'pk_attr': 'id', 'table_description': 'The log summed per UTC day, currency and kind, written with each movement (same'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='MrrMovement',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('tenant', fields.ForeignKeyField('tally.Tenant', source_field='tenant_id', db_constraint=True, to_field='id', related_name='mrr_movements', on_delete=OnDelete.CASCADE)),
                ('customer', fields.ForeignKeyField('tally.Customer', source_field='customer_id', db_constraint=True, to_field='id', related_name='mrr_movements', on_delete=OnDelete.CASCADE)),
                ('subscription', fields.ForeignKeyField('tally.Subscription', source_field='subscription_id', db_constraint=True, to_field='id', related_name='mrr_movements', on_delete=OnDelete.CASCADE)),
                ('currency', fields.CharField(max_length=3)),
                ('occurred_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('cause', fields.CharField(max_length=24)),
                ('kind', fields.CharField(null=True, max_length=16)),
                ('subscription_mrr_before', fields.BigIntField()),
                ('subscription_mrr_after', fields.BigIntField()),
                ('customer_mrr_before', fields.BigIntField()),
                ('customer_mrr_after', fields.BigIntField()),
                ('customers_delta', fields.SmallIntField(default=0)),
                ('terms', fields.JSONField(encoder=JSON_DUMPS, decoder=loads)),
            ],
            options={'table': 'mrr_movement', 'app': 'tally', 'indexes': [Index(fields=['tenant_id', 'currency', 'occurred_at']), Index(fields=['tenant_id', 'customer_id', 'occurred_at']), Index(fields=['subscription_id', 'occurred_at'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Subscription',
            name='mrr_minor',
            field=fields.BigIntField(default=0, db_default=0),
        ),
        ops.AddField(
            model_name='Tenant',
            name='analytics_settings',
            field=fields.JSONField(null=True, encoder=JSON_DUMPS, decoder=loads),
        ),
    ]
