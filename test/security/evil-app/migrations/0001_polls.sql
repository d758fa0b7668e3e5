-- The hostile app takes over a tenant created with the sample app (schema version 1):
-- it keeps that version so the deploy has nothing to migrate.
select 1;
