"""payments: charges through the bank, the billing records, receipts."""
