import 'reflect-metadata';
import { Controller, Get, Module, Post } from '@nestjs/common';
import { EventPattern } from '@nestjs/microservices';
import { ALL_ROLES } from '../roles';
import { joinPath, overlaps, RouteTable, routesOfModule } from './route-table';

const modules = Object.fromEntries(Object.entries(ALL_ROLES).map(([role, spec]) => [role, spec.module]));

describe('RouteTable on the real role modules', () => {
  const table = RouteTable.fromModules(modules);

  it('finds routes for every role', () => {
    for (const role of Object.keys(ALL_ROLES)) expect(table.entries.filter((e) => e.role === role).length).toBeGreaterThan(0);
    expect(table.entries).toContainEqual({ role: 'directory', method: 'POST', path: '/parties' });
    expect(table.entries).toContainEqual({ role: 'certifier', method: 'GET', path: '/parties/:partyId/trust' });
    // machine routes (client certificate) are marked: the gateway does not forward client certificates
    expect(table.find('GET', '/processor/operators/op-1')).toEqual({
      role: 'processor',
      method: 'GET',
      path: '/processor/operators/:operatorId',
      machine: true,
    });
  });

  it('maps every route of every role to its role, with concrete values for its parameters', () => {
    for (const entry of table.entries) {
      const concrete = entry.path.replace(/:[^/]+/g, (name) => `x-${name.slice(1)}-1`);
      expect({ route: `${entry.method} ${entry.path}`, role: table.match(entry.method, concrete) }).toEqual({
        route: `${entry.method} ${entry.path}`,
        role: entry.role,
      });
      expect(table.match(entry.method, `${concrete}/?a=1`)).toBe(entry.role); // trailing slash and query string
    }
  });

  it('follows Express: case-insensitive literals, HEAD served by GET', () => {
    expect(table.match('post', '/PARTIES')).toBe('directory');
    expect(table.match('HEAD', '/parties/p1/trust')).toBe('certifier');
  });

  it('answers undefined for unknown paths and methods', () => {
    expect(table.match('GET', '/no-such-route')).toBeUndefined();
    expect(table.match('GET', '/parties/p1/trust/more')).toBeUndefined();
    expect(table.match('PATCH', '/parties')).toBeUndefined();
    expect(table.match('GET', '/health')).toBeUndefined(); // every process's own; the gateway answers its own
    expect(table.match('GET', '//parties')).toBeUndefined();
    expect(table.match('GET', 'parties')).toBeUndefined();
  });

  it('never lets two roles claim a route one request could reach', () => {
    const conflicts: string[] = [];
    const entries = table.entries;
    entries.forEach((a, i) =>
      entries.slice(i + 1).forEach((b) => {
        if (a.role !== b.role && overlaps(a, b)) conflicts.push(`${a.role} ${a.method} ${a.path} / ${b.role} ${b.method} ${b.path}`);
      }),
    );
    expect(conflicts).toEqual([]);
  });
});

describe('RouteTable on small modules', () => {
  @Controller('things')
  class ThingsController {
    @Get(':id') one(): void {}
    @Get('current') current(): void {}
    @Post(['', 'bulk']) create(): void {}
  }
  @Controller()
  class ThingsConsumer {
    @EventPattern('things.created') onCreated(): void {}
  }
  @Module({ controllers: [ThingsConsumer] })
  class InnerModule {}
  @Module({ imports: [{ module: InnerModule, controllers: [ThingsController] }] })
  class OuterModule {}

  it('walks dynamic imports, skips bus consumers, reads path arrays', () => {
    expect(
      routesOfModule('things', OuterModule)
        .map((r) => `${r.method} ${r.path}`)
        .sort(),
    ).toEqual(['GET /things/:id', 'GET /things/current', 'POST /things', 'POST /things/bulk']);
  });

  it('prefers the route with more literal segments', () => {
    const table = new RouteTable([
      { role: 'a', method: 'GET', path: '/things/:id' },
      { role: 'b', method: 'GET', path: '/things/current' },
    ]);
    expect(table.match('GET', '/things/current')).toBe('b');
    expect(table.match('GET', '/things/other')).toBe('a');
    expect(overlaps({ role: 'a', method: 'GET', path: '/things/:id' }, { role: 'b', method: 'GET', path: '/things/current' })).toBe(true);
    expect(overlaps({ role: 'a', method: 'GET', path: '/things/:id' }, { role: 'b', method: 'POST', path: '/things/current' })).toBe(false);
  });

  it('joins paths', () => {
    expect(joinPath('/', '')).toBe('/');
    expect(joinPath('things/', '/:id/')).toBe('/things/:id');
  });
});
