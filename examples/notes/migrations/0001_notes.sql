create table notes (
  id bigint generated always as identity primary key,
  text text not null check (length(text) between 1 and 2000),
  created_at timestamptz not null default now(),
  expires_at timestamptz
);
