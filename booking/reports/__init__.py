"""reports: PDF documents (confirmations, receipts, invoices) from a template and data."""
