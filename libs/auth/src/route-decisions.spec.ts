import { Controller, Get, Module, Post } from '@nestjs/common';
import { EventPattern } from '@nestjs/microservices';
import { Test } from '@nestjs/testing';
import { Access, publicRoute, staff } from './access.decorator';
import { AuthModule } from './auth.module';
import { assertEveryRouteDecided, routeDecisions } from './route-decisions';

@Controller('decided')
@Access(staff('ops'))
class DecidedController {
  @Get()
  list() {
    return [];
  }

  @Get('open')
  @Access(publicRoute('test'))
  open() {
    return 'ok';
  }

  @EventPattern('some.topic')
  onEvent() {
    return undefined; // a bus handler is no route
  }
}

@Controller('forgotten')
class ForgottenController {
  @Post(':id')
  act() {
    return 'done';
  }
}

async function appWith(...controllers: (new (...args: never[]) => unknown)[]) {
  @Module({ imports: [AuthModule], controllers })
  class TestModule {}
  const moduleRef = await Test.createTestingModule({ imports: [TestModule] }).compile();
  const app = moduleRef.createNestApplication({ logger: false });
  await app.init();
  return app;
}

describe('deny by default at start-up', () => {
  it('reads each route with its decision, the method overriding the controller', async () => {
    const app = await appWith(DecidedController);
    expect(routeDecisions(app).map(({ method, path, decision }) => ({ method, path, kinds: decision?.map((rule) => rule.kind) }))).toEqual([
      { method: 'GET', path: '/decided', kinds: ['staff'] },
      { method: 'GET', path: '/decided/open', kinds: ['public'] },
    ]);
    expect(() => assertEveryRouteDecided(app)).not.toThrow();
    await app.close();
  });

  it('refuses to start with a route that has no access decision, naming it', async () => {
    const app = await appWith(DecidedController, ForgottenController);
    expect(() => assertEveryRouteDecided(app)).toThrow(/POST \/forgotten\/:id \(ForgottenController\.act\)/);
    await app.close();
  });
});
