-- Polls, after the agiliq "Building APIs with Django" book the original proof of concept cites.
create table polls (
  id bigint generated always as identity primary key,
  question text not null check (char_length(question) between 1 and 200),
  created_at timestamptz not null default now()
);

create table choices (
  id bigint generated always as identity primary key,
  poll_id bigint not null references polls (id) on delete cascade,
  position integer not null,
  text text not null check (char_length(text) between 1 and 100),
  votes integer not null default 0,
  unique (poll_id, position)
);

-- One row per vote: the audit trail; choices.votes is the counter kept in the same transaction.
create table votes (
  id bigint generated always as identity primary key,
  choice_id bigint not null references choices (id) on delete cascade,
  voter text not null check (char_length(voter) between 1 and 100),
  created_at timestamptz not null default now()
);

create index choices_poll_id on choices (poll_id);
create index votes_choice_id on votes (choice_id);
