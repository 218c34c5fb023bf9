from tortoise import migrations
from tortoise.migrations import operations as ops
from orjson import loads
from tortoise.fields.base import OnDelete
from tortoise.fields.data import JSON_DUMPS
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('tally', '0003_payments')]

    initial = False

    operations = [
        ops.CreateModel(
            name='CreditWallet',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('tenant', fields.ForeignKeyField('tally.Tenant', source_field='tenant_id', db_constraint=True, to_field='id', related_name='credit_wallets', on_delete=OnDelete.CASCADE)),
                ('customer', fields.OneToOneField('tally.Customer', source_field='customer_id', db_constraint=True, to_field='id', related_name='credit_wallet', on_delete=OnDelete.CASCADE)),
                ('balance', fields.BigIntField(default=0)),
                ('reserved', fields.BigIntField(default=0)),
                ('consumed_total', fields.BigIntField(default=0)),
                ('consumed_settled', fields.BigIntField(default=0)),
                ('usage_day', fields.CharField(default='', max_length=10)),
                ('used_today', fields.BigIntField(default=0)),
                ('blocked', fields.BooleanField(default=False)),
                ('blocked_reason', fields.CharField(null=True, max_length=300)),
                ('auto_blocked', fields.BooleanField(default=False)),
                ('next_event_at', fields.DatetimeField(null=True, db_index=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('updated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'credit_wallet', 'app': 'tally', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='CreditEntry',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('public_id', fields.CharField(unique=True, max_length=40)),
                ('tenant', fields.ForeignKeyField('tally.Tenant', source_field='tenant_id', db_constraint=True, to_field='id', related_name='credit_entries', on_delete=OnDelete.CASCADE)),
                ('wallet', fields.ForeignKeyField('tally.CreditWallet', source_field='wallet_id', db_constraint=True, to_field='id', related_name='entries', on_delete=OnDelete.CASCADE)),
                ('customer', fields.ForeignKeyField('tally.Customer', source_field='customer_id', db_constraint=True, to_field='id', related_name='credit_entries', on_delete=OnDelete.CASCADE)),
                ('kind', fields.CharField(max_length=16)),
                ('amount', fields.BigIntField()),
                ('balance_after', fields.BigIntField()),
                ('module', fields.CharField(null=True, max_length=32)),
                ('action', fields.CharField(null=True, max_length=64)),
                ('quantity', fields.BigIntField(null=True)),
                ('request_id', fields.CharField(null=True, max_length=128)),
                ('request_hash', fields.CharField(null=True, max_length=32)),
                ('remaining_today', fields.BigIntField(null=True)),
                ('local_day', fields.CharField(null=True, max_length=10)),
                ('metadata', fields.JSONField(null=True, encoder=JSON_DUMPS, decoder=loads)),
                ('reason', fields.CharField(null=True, max_length=300)),
                ('author', fields.CharField(null=True, max_length=100)),
                ('lot_id', fields.BigIntField(null=True)),
                ('reservation_id', fields.BigIntField(null=True)),
                ('refund_of', fields.BigIntField(null=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'credit_entry', 'app': 'tally', 'unique_together': (('tenant', 'request_id'),), 'indexes': [Index(fields=['wallet_id', 'id']), Index(fields=['wallet_id', 'local_day'])], 'pk_attr': 'id', 'table_description': 'The ledger, append-only: the wallet balance is the sum of `amount`.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='CreditLot',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('tenant', fields.ForeignKeyField('tally.Tenant', source_field='tenant_id', db_constraint=True, to_field='id', related_name='credit_lots', on_delete=OnDelete.CASCADE)),
                ('wallet', fields.ForeignKeyField('tally.CreditWallet', source_field='wallet_id', db_constraint=True, to_field='id', related_name='lots', on_delete=OnDelete.CASCADE)),
                ('kind', fields.CharField(max_length=16)),
                ('amount', fields.BigIntField()),
                ('remaining', fields.BigIntField()),
                ('expires_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('subscription', fields.ForeignKeyField('tally.Subscription', source_field='subscription_id', null=True, db_constraint=True, to_field='id', related_name='credit_lots', on_delete=OnDelete.CASCADE)),
                ('closed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'credit_lot', 'app': 'tally', 'indexes': [Index(fields=['wallet_id', 'closed_at'])], 'pk_attr': 'id', 'table_description': 'Credits granted together, with one expiry (none for purchases by default).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='CreditPurchase',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('public_id', fields.CharField(unique=True, max_length=40)),
                ('tenant', fields.ForeignKeyField('tally.Tenant', source_field='tenant_id', db_constraint=True, to_field='id', related_name='credit_purchases', on_delete=OnDelete.CASCADE)),
                ('wallet', fields.ForeignKeyField('tally.CreditWallet', source_field='wallet_id', db_constraint=True, to_field='id', related_name='purchases', on_delete=OnDelete.CASCADE)),
                ('customer', fields.ForeignKeyField('tally.Customer', source_field='customer_id', db_constraint=True, to_field='id', related_name='credit_purchases', on_delete=OnDelete.CASCADE)),
                ('invoice', fields.OneToOneField('tally.Invoice', source_field='invoice_id', db_constraint=True, to_field='id', related_name='credit_purchase', on_delete=OnDelete.CASCADE)),
                ('credits', fields.BigIntField()),
                ('expires_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('status', fields.CharField(default='pending', max_length=16)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('granted_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'credit_purchase', 'app': 'tally', 'indexes': [Index(fields=['status', 'id'])], 'pk_attr': 'id', 'table_description': 'A top-up: credited when its invoice is paid, once.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='CreditReservation',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('public_id', fields.CharField(unique=True, max_length=40)),
                ('tenant', fields.ForeignKeyField('tally.Tenant', source_field='tenant_id', db_constraint=True, to_field='id', related_name='credit_reservations', on_delete=OnDelete.CASCADE)),
                ('wallet', fields.ForeignKeyField('tally.CreditWallet', source_field='wallet_id', db_constraint=True, to_field='id', related_name='reservations', on_delete=OnDelete.CASCADE)),
                ('customer', fields.ForeignKeyField('tally.Customer', source_field='customer_id', db_constraint=True, to_field='id', related_name='credit_reservations', on_delete=OnDelete.CASCADE)),
                ('module', fields.CharField(max_length=32)),
                ('action', fields.CharField(max_length=64)),
                ('quantity', fields.BigIntField()),
                ('amount', fields.BigIntField()),
                ('committed_amount', fields.BigIntField(null=True)),
                ('status', fields.CharField(max_length=16)),
                ('request_id', fields.CharField(max_length=128)),
                ('request_hash', fields.CharField(max_length=32)),
                ('usage_day', fields.CharField(max_length=10)),
                ('metadata', fields.JSONField(null=True, encoder=JSON_DUMPS, decoder=loads)),
                ('expires_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('updated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'credit_reservation', 'app': 'tally', 'unique_together': (('tenant', 'request_id'),), 'indexes': [Index(fields=['status', 'expires_at']), Index(fields=['wallet_id', 'status'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Plan',
            name='credit_costs',
            field=fields.JSONField(null=True, encoder=JSON_DUMPS, decoder=loads),
        ),
        ops.AddField(
            model_name='Plan',
            name='rollover_cap',
            field=fields.BigIntField(null=True),
        ),
        ops.AddField(
            model_name='Tenant',
            name='credit_settings',
            field=fields.JSONField(null=True, encoder=JSON_DUMPS, decoder=loads),
        ),
    ]
