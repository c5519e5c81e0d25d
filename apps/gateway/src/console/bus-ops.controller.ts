import { BadRequestException, Body, Controller, Get, HttpCode, Inject, NotFoundException, Param, ParseIntPipe, Post, Query } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { Access, CurrentPrincipal, type Principal, staff } from '@sigillum/auth';
import type { SigillumConfig } from '@sigillum/config';
import { EVENT_BUS, type EventBus, KafkaEventBus } from '@sigillum/bus';
import { IsPlainText, LOCAL_DB, RequestTraceparent, SIGILLUM_CONFIG } from '@sigillum/runtime';
import type Database from 'better-sqlite3';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, IsString, Length, Matches, Max, MaxLength, Min } from 'class-validator';
import type { DeadLetterState } from './dead-letter.decider';
import { DeadLettersService, type ReplayProgress } from './dead-letters.service';

export interface BusOverview {
  readonly bus: 'embedded' | 'kafka';
  /**
   * Per dead-letter topic (and group on the embedded bus) the dead letters it holds. On Kafka, the records each
   * `<topic>.dlq` topic retains; `group` is null there (each record's `dlq_group` header names it).
   */
  readonly deadLetters: readonly { readonly topic: string; readonly group: string | null; readonly count: number }[];
  /**
   * Per consumer group and topic: `checkpoint` (embedded: the group's checkpoint offset; Kafka: the committed offsets summed over the
   * topic's partitions), `head` (the head of the log; Kafka: the log-end offsets summed) and `behind` (messages still to handle).
   */
  readonly lag: readonly {
    readonly group: string;
    readonly topic: string;
    readonly checkpoint: number;
    readonly head: number;
    readonly behind: number;
    /** Kafka: the same per partition (`committed` null when the group committed none there). */
    readonly partitions?: readonly { readonly partition: number; readonly committed: number | null; readonly end: number; readonly lag: number }[];
  }[];
  /** Kafka: why the brokers could not be read (the lists are then empty); absent when they answered. */
  readonly unreachable?: string;
}

export interface DeadLetterItem {
  readonly offset: number;
  readonly topic: string;
  readonly group: string;
  readonly key: string;
  readonly type: string;
  readonly messageId: string;
  readonly time: string;
  readonly headers: Readonly<Record<string, string>>;
  /** What operators did with it (from its `deadletter-<offset>` events). */
  readonly state?: DeadLetterState;
  /** After a replay: whether the group that had failed has gone past the replayed copy. */
  readonly progress?: ReplayProgress | null;
}

export class DiscardForm {
  @IsString()
  @Length(1, 300)
  @IsPlainText()
  reason!: string;
}

export class DeadLetterQuery {
  @IsOptional()
  @MaxLength(200)
  @Matches(/^[a-z0-9._-]+\.dlq$/, { message: 'topic must be a dead-letter topic name (<topic>.dlq)' })
  topic?: string;

  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(0)
  after?: number;

  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(100)
  limit?: number;
}

interface MessageRow {
  offset: number;
  topic: string;
  dlq_group: string;
  key: string;
  type: string;
  message_id: string;
  time: string;
  headers: string | null;
}

const itemOf = (row: MessageRow): DeadLetterItem => ({
  offset: row.offset,
  topic: row.topic,
  group: row.dlq_group,
  key: row.key,
  type: row.type,
  messageId: row.message_id,
  time: row.time,
  headers: row.headers ? (JSON.parse(row.headers) as Record<string, string>) : {},
});

/**
 * The bus as the operator needs it (dead letters per topic and group, each group's distance from the head of each
 * topic it reads) and, on the embedded bus, its dead letters with their reason and headers. The body of a dead letter
 * is never served here: it may be a letter's submission (subject), which `ops` must not read. Embedded: read from the
 * bus tables of this process's SQLite by index. Kafka: asked of the brokers (every group and `.dlq` topic of the
 * deployment, whichever process consumes), within 3 s; unreachable brokers are reported, not failed.
 */
@ApiTags('ops')
@Controller('ops')
export class BusOpsController {
  constructor(
    @Inject(LOCAL_DB) private readonly db: Database.Database,
    @Inject(SIGILLUM_CONFIG) private readonly config: SigillumConfig,
    private readonly actions: DeadLettersService,
    @Inject(EVENT_BUS) private readonly eventBus: EventBus,
  ) {}

  private get embedded(): boolean {
    return this.config.eventBus.kind !== 'kafka';
  }

  @Get('bus')
  @ApiOperation({
    summary: 'Dead letters per topic, and how far each consumer group is behind the head of each topic',
    description:
      'Embedded bus: from its tables. Kafka: from the brokers (committed and log-end offsets per group and topic, records of each .dlq topic); ' +
      'brokers that do not answer within 3 s give 200 with `unreachable` saying why.',
  })
  @Access(staff('ops', 'admin', 'auditor'))
  async bus(): Promise<BusOverview> {
    if (!this.embedded) return this.kafkaBus();
    const deadLetters = this.db
      .prepare(
        `SELECT topic, dlq_group AS "group", count(*) AS count FROM bus_messages WHERE dlq_group <> '' AND topic LIKE '%.dlq' GROUP BY topic, dlq_group ORDER BY topic, dlq_group`,
      )
      .all() as { topic: string; group: string; count: number }[];
    const checkpoints = this.db.prepare('SELECT group_id, topic, "offset" FROM bus_checkpoints ORDER BY group_id, topic').all() as {
      group_id: string;
      topic: string;
      offset: number;
    }[];
    const head = this.db.prepare(`SELECT max("offset") AS head FROM bus_messages WHERE topic = ?`);
    const behind = this.db.prepare(`SELECT count(*) AS n FROM bus_messages WHERE topic = ? AND "offset" > ? AND dlq_group = ''`);
    const lag = checkpoints
      .filter((row) => !row.topic.endsWith('.dlq'))
      .map((row) => ({
        group: row.group_id,
        topic: row.topic,
        checkpoint: row.offset,
        head: (head.get(row.topic) as { head: number | null }).head ?? 0,
        behind: (behind.get(row.topic, row.offset) as { n: number }).n,
      }));
    return { bus: 'embedded', deadLetters, lag };
  }

  private async kafkaBus(): Promise<BusOverview> {
    if (!(this.eventBus instanceof KafkaEventBus)) return { bus: 'kafka', deadLetters: [], lag: [], unreachable: 'this process has no Kafka bus' };
    try {
      const state = await this.eventBus.readBusState(3_000);
      return {
        bus: 'kafka',
        deadLetters: state.deadLetters.map((d) => ({ topic: d.topic, group: null, count: d.count })),
        lag: state.lag.map((l) => ({
          group: l.group,
          topic: l.topic,
          checkpoint: l.committed,
          head: l.end,
          behind: l.lag,
          partitions: l.partitions.map(({ partition, committed, end, lag }) => ({ partition, committed, end, lag })),
        })),
      };
    } catch (error) {
      return { bus: 'kafka', deadLetters: [], lag: [], unreachable: (error as Error).message };
    }
  }

  @Get('dead-letters')
  @ApiOperation({ summary: 'Dead letters of the embedded bus, newest first, with their reason and headers (never their body)' })
  @Access(staff('ops', 'admin'))
  async deadLetters(@Query() query: DeadLetterQuery): Promise<{ items: DeadLetterItem[]; next: number | null }> {
    if (!this.embedded)
      throw new BadRequestException({
        statusCode: 400,
        code: 'OPS.KAFKA_BUS',
        message: 'On Kafka, dead letters are the <topic>.dlq topics of the broker',
        reasons: [{ rule: 'bus.kafka', message: 'read the .dlq topics with the broker tools' }],
      });
    const limit = query.limit ?? 20;
    const rows = this.db
      .prepare(
        `SELECT "offset", topic, dlq_group, key, type, message_id, time, headers FROM bus_messages
          WHERE dlq_group <> '' AND topic LIKE '%.dlq' ${query.topic ? 'AND topic = ?' : ''} ${query.after !== undefined ? 'AND "offset" < ?' : ''}
          ORDER BY "offset" DESC LIMIT ?`,
      )
      .all(...[...(query.topic ? [query.topic] : []), ...(query.after !== undefined ? [query.after] : []), limit + 1]) as MessageRow[];
    const page = rows.slice(0, limit);
    const items = await Promise.all(page.map(async (row) => ({ ...itemOf(row), state: (await this.actions.state(row.offset)).state })));
    return { items, next: rows.length > limit ? page[page.length - 1].offset : null };
  }

  @Get('dead-letters/:offset')
  @ApiOperation({ summary: 'One dead letter of the embedded bus: headers (reason, original topic, offset, group, attempts), key, type, time' })
  @Access(staff('ops', 'admin'))
  async deadLetter(@Param('offset', new ParseIntPipe()) offset: number): Promise<DeadLetterItem> {
    const row = this.embedded
      ? (this.db
          .prepare(
            `SELECT "offset", topic, dlq_group, key, type, message_id, time, headers FROM bus_messages WHERE "offset" = ? AND dlq_group <> '' AND topic LIKE '%.dlq'`,
          )
          .get(offset) as MessageRow | undefined)
      : undefined;
    if (!row) throw new NotFoundException({ statusCode: 404, code: 'OPS.UNKNOWN_DEAD_LETTER', message: `No dead letter at offset ${offset}` });
    return { ...itemOf(row), state: (await this.actions.state(offset)).state, progress: this.actions.progress(offset) };
  }

  @Post('dead-letters/:offset/replay')
  @ApiOperation({ summary: 'Replays a dead letter after a fix: recorded as DeadLetterReplayed, then the message is delivered again on its original topic' })
  @Access(staff('ops'))
  @HttpCode(200)
  async replay(
    @Param('offset', new ParseIntPipe()) offset: number,
    @CurrentPrincipal() principal: Principal,
    @RequestTraceparent() traceparent: string | undefined,
  ): Promise<{ offset: number; state: DeadLetterState }> {
    this.requireEmbedded();
    return { offset, state: await this.actions.replay(offset, subjectOf(principal), traceparent) };
  }

  @Post('dead-letters/:offset/discard')
  @ApiOperation({ summary: 'Discards a dead letter with a reason, recorded as DeadLetterDiscarded; it is then closed' })
  @Access(staff('ops'))
  @HttpCode(200)
  async discard(
    @Param('offset', new ParseIntPipe()) offset: number,
    @Body() form: DiscardForm,
    @CurrentPrincipal() principal: Principal,
    @RequestTraceparent() traceparent: string | undefined,
  ): Promise<{ offset: number; state: DeadLetterState }> {
    this.requireEmbedded();
    return { offset, state: await this.actions.discard(offset, form.reason, subjectOf(principal), traceparent) };
  }

  private requireEmbedded(): void {
    if (!this.embedded)
      throw new BadRequestException({
        statusCode: 400,
        code: 'OPS.KAFKA_BUS',
        message: 'On Kafka, replay a .dlq record with the broker tools',
        reasons: [{ rule: 'bus.kafka', message: 'embedded bus only' }],
      });
  }
}

const subjectOf = (principal: Principal) => (principal.kind === 'staff' ? principal.subject : principal.kind);
