"""The console's pages, by group: account (login, district list), runs (runs, import summary,
plan rows, errors, export), review (held plans, alerts), imports (upload, test import, launch
progress) and history (section on a date, activity)."""
