"""The composition root: the GraphQL app and context, the HTTP endpoints beside it
(PDFs, provider webhooks) and the schema assembled from every context."""
