from tortoise import migrations
from tortoise.migrations import operations as ops
from orjson import loads
from tortoise.fields.base import OnDelete
from tortoise.fields.data import JSON_DUMPS
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('tally', '0008_analytics')]

    initial = False

    operations = [
        ops.CreateModel(
            name='BillingRun',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('tenant', fields.ForeignKeyField('tally.Tenant', source_field='tenant_id', db_constraint=True, to_field='id', related_name='billing_runs', on_delete=OnDelete.CASCADE)),
                ('run_id', fields.CharField(max_length=32)),
                ('trigger', fields.CharField(max_length=16)),
                ('started_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('finished_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('billed_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('subscriptions', fields.IntField(default=0)),
                ('invoices', fields.IntField(default=0)),
                ('failures', fields.IntField(default=0)),
                ('totals', fields.JSONField(default=dict, encoder=JSON_DUMPS, decoder=loads)),
                ('errors', fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
                ('repeats', fields.IntField(default=1)),
            ],
            options={'table': 'billing_run', 'app': 'tally', 'indexes': [Index(fields=['tenant_id', 'started_at'])], 'pk_attr': 'id', 'table_description': "What one billing run did for one tenant (issue 18: the console's operations"},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='PortalLink',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('tenant', fields.ForeignKeyField('tally.Tenant', source_field='tenant_id', db_constraint=True, to_field='id', related_name='portal_links', on_delete=OnDelete.CASCADE)),
                ('customer', fields.ForeignKeyField('tally.Customer', source_field='customer_id', db_constraint=True, to_field='id', related_name='portal_links', on_delete=OnDelete.CASCADE)),
                ('created_by', fields.ForeignKeyField('tally.ApiKey', source_field='created_by_id', db_constraint=True, to_field='id', related_name='portal_links', on_delete=OnDelete.CASCADE)),
                ('secret_hash', fields.CharField(unique=True, max_length=64)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('expires_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('used_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'portal_link', 'app': 'tally', 'pk_attr': 'id', 'table_description': 'A sign-in link to the customer portal: valid 15 minutes, used once. Only the'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='ApiKey',
            name='session_of',
            field=fields.ForeignKeyField('tally.ApiKey', source_field='session_of_id', null=True, db_constraint=True, to_field='id', related_name='sessions', on_delete=OnDelete.CASCADE),
        ),
        ops.AddField(
            model_name='CreditWallet',
            name='unblocked_reason',
            field=fields.CharField(null=True, max_length=300),
        ),
        ops.AddField(
            model_name='Plan',
            name='self_service',
            field=fields.BooleanField(default=False, db_default=False),
        ),
        ops.AddField(
            model_name='Subscription',
            name='cancel_requested_by',
            field=fields.CharField(null=True, max_length=16),
        ),
    ]
