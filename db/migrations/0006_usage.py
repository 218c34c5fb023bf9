from tortoise import migrations
from tortoise.migrations import operations as ops
from orjson import loads
from tortoise.fields.base import OnDelete
from tortoise.fields.data import JSON_DUMPS
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('tally', '0005_mail_claims')]

    initial = False

    operations = [
        ops.CreateModel(
            name='BillableMetric',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('public_id', fields.CharField(unique=True, max_length=40)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('updated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('tenant', fields.ForeignKeyField('tally.Tenant', source_field='tenant_id', db_constraint=True, to_field='id', related_name='billable_metrics', on_delete=OnDelete.CASCADE)),
                ('code', fields.CharField(max_length=64)),
                ('name', fields.CharField(max_length=200)),
                ('description', fields.TextField(default='', unique=False)),
                ('aggregation', fields.CharField(max_length=24)),
                ('field_name', fields.CharField(null=True, max_length=64)),
                ('dimensions', fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
                ('conversion', fields.JSONField(null=True, encoder=JSON_DUMPS, decoder=loads)),
                ('time_unit', fields.CharField(default='hour', max_length=8)),
                ('archived_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'billable_metric', 'app': 'tally', 'unique_together': (('tenant', 'code'),), 'pk_attr': 'id'},
            bases=['TimestampedModel'],
        ),
        ops.CreateModel(
            name='Charge',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('public_id', fields.CharField(unique=True, max_length=40)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('updated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('tenant', fields.ForeignKeyField('tally.Tenant', source_field='tenant_id', db_constraint=True, to_field='id', related_name='charges', on_delete=OnDelete.CASCADE)),
                ('plan', fields.ForeignKeyField('tally.Plan', source_field='plan_id', db_constraint=True, to_field='id', related_name='charges', on_delete=OnDelete.CASCADE)),
                ('metric', fields.ForeignKeyField('tally.BillableMetric', source_field='metric_id', db_constraint=True, to_field='id', related_name='charges', on_delete=OnDelete.CASCADE)),
                ('model', fields.CharField(max_length=16)),
                ('prices', fields.JSONField(encoder=JSON_DUMPS, decoder=loads)),
                ('filters', fields.JSONField(default=dict, encoder=JSON_DUMPS, decoder=loads)),
                ('invoice_display_name', fields.CharField(max_length=200)),
                ('position', fields.IntField(default=0)),
                ('archived_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'usage_charge', 'app': 'tally', 'indexes': [Index(fields=['plan_id', 'metric_id'])], 'pk_attr': 'id', 'table_description': "A plan's price for a metric: a pricing model with its terms per currency."},
            bases=['TimestampedModel'],
        ),
        ops.CreateModel(
            name='Incident',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('public_id', fields.CharField(unique=True, max_length=40)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('updated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('tenant', fields.ForeignKeyField('tally.Tenant', source_field='tenant_id', db_constraint=True, to_field='id', related_name='incidents', on_delete=OnDelete.CASCADE)),
                ('title', fields.CharField(max_length=200)),
                ('started_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('ended_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('customer_ids', fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
            ],
            options={'table': 'usage_incident', 'app': 'tally', 'indexes': [Index(fields=['tenant_id', 'started_at'])], 'pk_attr': 'id', 'table_description': 'An outage the tenant records (SLA credits are computed from them).'},
            bases=['TimestampedModel'],
        ),
        ops.CreateModel(
            name='SpendingAlert',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('public_id', fields.CharField(unique=True, max_length=40)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('updated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('tenant', fields.ForeignKeyField('tally.Tenant', source_field='tenant_id', db_constraint=True, to_field='id', related_name='spending_alerts', on_delete=OnDelete.CASCADE)),
                ('customer', fields.ForeignKeyField('tally.Customer', source_field='customer_id', null=True, db_constraint=True, to_field='id', related_name='spending_alerts', on_delete=OnDelete.CASCADE)),
                ('subscription', fields.ForeignKeyField('tally.Subscription', source_field='subscription_id', null=True, db_constraint=True, to_field='id', related_name='spending_alerts', on_delete=OnDelete.CASCADE)),
                ('amount_minor', fields.BigIntField()),
                ('currency', fields.CharField(max_length=3)),
            ],
            options={'table': 'spending_alert', 'app': 'tally', 'indexes': [Index(fields=['tenant_id', 'customer_id'])], 'pk_attr': 'id', 'table_description': "A threshold on a subscription's running usage amount (per period)."},
            bases=['TimestampedModel'],
        ),
        ops.CreateModel(
            name='UsageAggregate',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('tenant_id', fields.BigIntField()),
                ('subscription_id', fields.BigIntField()),
                ('charge_id', fields.BigIntField()),
                ('period_start', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('group_key', fields.CharField(default='', max_length=255)),
                ('events', fields.BigIntField(default=0)),
                ('total', fields.CharField(default='0', max_length=100)),
                ('maximum', fields.CharField(null=True, max_length=100)),
                ('latest_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('latest_value', fields.CharField(null=True, max_length=100)),
                ('latest_tx', fields.CharField(null=True, max_length=128)),
                ('weighted', fields.CharField(default='0', max_length=100)),
                ('fees', fields.CharField(default='0', max_length=100)),
                ('uniques', fields.BigIntField(default=0)),
                ('updated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'usage_aggregate', 'app': 'tally', 'unique_together': (('subscription_id', 'charge_id', 'period_start', 'group_key'),), 'pk_attr': 'id', 'table_description': 'The running aggregate of one charge for one period and dimension group.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='UsageEvent',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('tenant_id', fields.BigIntField()),
                ('transaction_id', fields.CharField(max_length=128)),
                ('customer_id', fields.BigIntField()),
                ('subscription_id', fields.BigIntField()),
                ('metric_id', fields.BigIntField()),
                ('timestamp', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('properties', fields.JSONField(default=dict, encoder=JSON_DUMPS, decoder=loads)),
                ('body_hash', fields.CharField(max_length=32)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'usage_event', 'app': 'tally', 'unique_together': (('tenant_id', 'transaction_id'),), 'indexes': [Index(fields=['customer_id', 'timestamp', 'id'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='UsagePeriod',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('tenant_id', fields.BigIntField()),
                ('subscription_id', fields.BigIntField()),
                ('start', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('end', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('currency', fields.CharField(max_length=3)),
                ('status', fields.CharField(default='open', max_length=8)),
                ('invoice_id', fields.BigIntField(null=True)),
                ('billed', fields.JSONField(default=dict, encoder=JSON_DUMPS, decoder=loads)),
                ('changed', fields.BooleanField(default=False)),
                ('alerts_sent', fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
                ('terms', fields.JSONField(null=True, encoder=JSON_DUMPS, decoder=loads)),
            ],
            options={'table': 'usage_period', 'app': 'tally', 'unique_together': (('subscription_id', 'start'),), 'pk_attr': 'id', 'table_description': "One subscription's usage period: where late events find their period, and"},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='UsageUniqueValue',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('aggregate_id', fields.BigIntField()),
                ('value', fields.CharField(max_length=255)),
            ],
            options={'table': 'usage_unique_value', 'app': 'tally', 'unique_together': (('aggregate_id', 'value'),), 'pk_attr': 'id', 'table_description': 'The distinct values an UNIQUE_COUNT aggregate has seen (its count is theirs).'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='InvoiceLine',
            name='details',
            field=fields.JSONField(null=True, encoder=JSON_DUMPS, decoder=loads),
        ),
        ops.AddField(
            model_name='Plan',
            name='usage_terms',
            field=fields.JSONField(null=True, encoder=JSON_DUMPS, decoder=loads),
        ),
        ops.AddField(
            model_name='Tenant',
            name='usage_grace_days',
            field=fields.IntField(default=3, db_default=3),
        ),
    ]
