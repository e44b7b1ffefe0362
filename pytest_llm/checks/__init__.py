"""What tests assert: JSON schema, similarity, drift, budgets, token counts, prices."""
