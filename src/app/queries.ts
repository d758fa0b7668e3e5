/**
 * Every SQL statement of the polls app. Values always go in as `${value}` parameters.
 * A poll and its choices come back from ONE query (json_agg), so listing costs one
 * round trip whatever the number of polls.
 */
import type { PendingQuery, Row, Sql } from 'postgres';

export interface Choice {
  id: number;
  text: string;
  votes: number;
}

export interface Poll {
  id: number;
  question: string;
  createdAt: string;
  choices: Choice[];
}

export type VoteResult =
  | { status: 'ok'; choiceId: number; votes: number }
  | { status: 'no-poll' }
  | { status: 'no-choice' };

interface PollRow {
  id: string; // bigint arrives as a string
  question: string;
  created_at: Date;
  choices: Choice[];
}

function toPoll(row: PollRow): Poll {
  return {
    id: Number(row.id),
    question: row.question,
    createdAt: row.created_at.toISOString(),
    choices: row.choices.map((c) => ({ id: Number(c.id), text: c.text, votes: Number(c.votes) })),
  };
}

/**
 * Says whether the request behind a write has already been answered. A write whose
 * request timed out (the client got a 503) must not commit later, when a stalled
 * database connection moves again: the transaction asks before it commits and rolls
 * back instead. (Not `request.signal`: Fastify also aborts it once the body is read.)
 */
export type Answered = () => boolean;

class AlreadyAnswered extends Error {
  readonly code = 'SILO_ALREADY_ANSWERED';
}

function stillWanted(answered?: Answered): void {
  if (answered?.()) throw new AlreadyAnswered('the request was already answered: rolled back');
}

export function createPollQueries(sql: Sql) {
  const selectPolls = (filter: PendingQuery<Row[]>) => sql<PollRow[]>`
    select p.id, p.question, p.created_at,
      coalesce(
        json_agg(json_build_object('id', c.id, 'text', c.text, 'votes', c.votes) order by c.position)
          filter (where c.id is not null),
        '[]'::json) as choices
    from polls p
    left join choices c on c.poll_id = p.id
    ${filter}
    group by p.id
    order by p.id`;

  return {
    async list(): Promise<Poll[]> {
      return (await selectPolls(sql``)).map(toPoll);
    },

    async get(id: number): Promise<Poll | undefined> {
      const [row] = await selectPolls(sql`where p.id = ${id}`);
      return row && toPoll(row);
    },

    async create(question: string, choices: string[], answered?: Answered): Promise<Poll> {
      return sql.begin(async (tx) => {
        const [poll] = await tx<{ id: string; question: string; created_at: Date }[]>`
          insert into polls (question) values (${question}) returning id, question, created_at`;
        const rows = choices.map((text, i) => ({ poll_id: poll!.id, position: i + 1, text }));
        const inserted = await tx<{ id: string; position: number; text: string; votes: number }[]>`
          insert into choices ${tx(rows)}
          returning id, position, text, votes`;
        stillWanted(answered);
        const sorted = [...inserted].sort((a, b) => a.position - b.position);
        return toPoll({ ...poll!, choices: sorted.map((c) => ({ id: Number(c.id), text: c.text, votes: c.votes })) });
      });
    },

    /** Counts one vote: the audit row and the counter change in one statement and transaction. */
    async vote(pollId: number, choiceId: number, voter: string, answered?: Answered): Promise<VoteResult> {
      return sql.begin(async (tx): Promise<VoteResult> => {
        // One statement for the counter and the audit row (a round trip fewer per vote).
        // The poll_id condition is what stops a vote for a choice of another poll.
        const [choice] = await tx<{ id: string; votes: number }[]>`
          with counted as (
            update choices set votes = votes + 1
            where id = ${choiceId} and poll_id = ${pollId}
            returning id, votes
          ), audit as (
            insert into votes (choice_id, voter) select id, ${voter} from counted
          )
          select id, votes from counted`;
        if (!choice) {
          const [poll] = await tx`select 1 from polls where id = ${pollId}`;
          return poll ? { status: 'no-choice' } : { status: 'no-poll' };
        }
        stillWanted(answered);
        return { status: 'ok', choiceId: Number(choice.id), votes: choice.votes };
      });
    },

    /** True when a poll was deleted (its choices and votes go with it). */
    async remove(id: number): Promise<boolean> {
      const result = await sql`delete from polls where id = ${id}`;
      return result.count > 0;
    },
  };
}

export type PollQueries = ReturnType<typeof createPollQueries>;
