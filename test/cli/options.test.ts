// Every numeric option of every command is validated in packages/cli/src/options.ts: the defaults the
// commands declare pass, and a non-number, a negative number or an out-of-range value is refused
// with an error naming the option and the value.
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../../packages/cli/src/program.ts';
import { integer, number, parseTrainJudge, parseBuildEmbedded, parseEvalClip, parseEvalPrior, parseTrainClip, parseTrainPrior, parseTrainVae, parseTrainDecoder, parseSample, parseEvalDecoder, parseEval, type TrainClipCli, type TrainPriorCli } from '../../packages/cli/src/options.ts';

// The parsers take each command's own option type; here they get the commander defaults.
const PARSERS: Record<string, (o: never) => unknown> = {
  'train-prior': parseTrainPrior,
  'eval-prior': parseEvalPrior,
  'train-clip': parseTrainClip,
  'eval-clip': parseEvalClip,
  'build-embedded': parseBuildEmbedded,
  'train-vae': parseTrainVae,
  sample: parseSample,
  'train-decoder': parseTrainDecoder,
  'train-judge': parseTrainJudge,
  'eval-decoder': parseEvalDecoder,
  eval: parseEval,
};
/** Argument placeholders of numeric options; the others name paths, sizes or lists. */
const NUMERIC = new Set(['n', 'x', 'k', 'p', 'px', 'w', 'decay', 'fraction']);
const OTHER = new Set(['dir', 'name', 'file', 'attributes', 'path', 'mode', 'list', 'split', 'type']);

const placeholder = (flags: string) => /[<[](\w+)[>\]]/.exec(flags)?.[1];

type Command = ReturnType<typeof buildProgram>;

/** The options a command gets with nothing on its command line. */
function defaults(cmd: Command): Record<string, unknown> {
  return Object.fromEntries(cmd.options.filter((o) => o.defaultValue !== undefined || o.negate).map((o) => [o.attributeName(), o.negate ? true : o.defaultValue]));
}

describe('CLI options', () => {
  const commands = buildProgram().commands;

  it('every command with a numeric option has a parser, and every option is known to be numeric or not', () => {
    for (const cmd of commands) {
      for (const o of cmd.options) {
        const p = placeholder(o.flags);
        if (p === undefined) continue; // a switch
        expect(NUMERIC.has(p) || OTHER.has(p), `${cmd.name()} ${o.flags}`).toBe(true);
        if (NUMERIC.has(p)) expect(PARSERS[cmd.name()], `${cmd.name()} has numeric ${o.flags} but no parser`).toBeDefined();
      }
    }
  });

  it('the declared defaults pass validation', () => {
    for (const cmd of commands) if (PARSERS[cmd.name()]) expect(() => PARSERS[cmd.name()](defaults(cmd) as never), cmd.name()).not.toThrow();
  });

  it('every numeric option refuses a non-number, a negative number and an empty value, naming itself and the value', () => {
    let checked = 0;
    for (const cmd of commands) {
      for (const o of cmd.options) {
        if (!NUMERIC.has(placeholder(o.flags) ?? '')) continue;
        for (const bad of ['abc', '-5', '', 'Infinity']) {
          const options = { ...defaults(cmd), [o.attributeName()]: bad };
          expect(() => PARSERS[cmd.name()](options as never), `${cmd.name()} ${o.long} ${bad}`).toThrow(`${o.long} must be `);
          expect(() => PARSERS[cmd.name()](options as never), `${cmd.name()} ${o.long} ${bad}`).toThrow(`got "${bad}"`);
        }
        checked++;
      }
    }
    expect(checked).toBe(70); // 5 train-judge, 12 train-prior, 9 train-clip, 10 train-vae, 7 train-decoder, 5 eval-decoder, 4 eval-prior, 4 sample, 3 build-embedded, 3 eval-clip, 8 eval
  });

  it('integers, ranges and the choice of size are checked with clear messages', () => {
    const prior = defaults(commands.find((c) => c.name() === 'train-prior')!) as unknown as TrainPriorCli;
    const clip = defaults(commands.find((c) => c.name() === 'train-clip')!) as unknown as TrainClipCli;
    expect(() => parseTrainPrior({ ...prior, steps: '2.5' })).toThrow('--steps must be an integer ≥ 1, got "2.5"');
    expect(() => parseTrainPrior({ ...prior, batchSize: '0' })).toThrow('--batch-size must be an integer ≥ 1, got "0"');
    expect(() => parseTrainPrior({ ...prior, lr: '0' })).toThrow('--lr must be a number > 0, got "0"');
    expect(() => parseTrainPrior({ ...prior, dropText: '1.5' })).toThrow('--drop-text must be a number in [0, 1], got "1.5"');
    expect(() => parseTrainPrior({ ...prior, ema: '1' })).toThrow('--ema must be a number in [0, 1), got "1"');
    expect(() => parseTrainPrior({ ...prior, evalSteps: '2000' })).toThrow('--eval-steps must be an integer in [1, 1000], got "2000"');
    expect(() => parseTrainPrior({ ...prior, seed: '1e12' })).toThrow('--seed must be an integer in [0, 4294967295], got "1e12"');
    expect(() => parseTrainPrior({ ...prior, holdout: '0' })).toThrow('--holdout must be an integer ≥ 1, got "0"');
    expect(() => parseTrainPrior({ ...prior, size: 'huge' })).toThrow('--size must be one of seed, small, tiny, got "huge"');
    expect(() => parseTrainPrior({ ...prior, seeds: '0,x' })).toThrow('--seeds must be an integer in [0, 4294967295], got "x"');
    expect(() => parseTrainPrior({ ...prior, lossWeight: 'snr' })).toThrow('--loss-weight must be one of one-minus-alpha-bar, uniform, got "snr"');
    expect(parseTrainPrior(prior).settings.lossWeight).toBeUndefined(); // the seed's weighting is not recorded
    expect(parseTrainPrior({ ...prior, lossWeight: 'uniform' }).settings.lossWeight).toBe('uniform');
    expect(() => parseTrainPrior({ ...prior, seeds: '1,2,1' })).toThrow('--seeds lists a seed twice: 1,2,1');
    expect(() => parseTrainPrior({ ...prior, evalSplit: 'train' })).toThrow(`--eval-split must be 'validation' or 'test', got "train"`);
    expect(() => parseTrainPrior({ ...prior, evalSplit: 'test', data: 'pairs/' })).toThrow('--eval-split test applies to the embedded default');
    expect(parseTrainPrior({ ...prior, seeds: '0, 1,2' }).seeds).toEqual([0, 1, 2]);
    expect(parseTrainPrior(prior).seeds).toEqual([0]);
    expect(() => parseBuildEmbedded({ train: '5', validation: '5', test: '5', splits: 'test,heldout' })).toThrow('--splits: unknown split "heldout"');
    expect(() => parseTrainClip({ ...clip, contrast: '1.2' })).toThrow('--contrast must be a number in [0, 1], got "1.2"');
    expect(() => parseTrainClip({ ...clip, patchSize: '0' })).toThrow('--patch-size must be an integer ≥ 1, got "0"');
    const ok = parseTrainPrior({ ...prior, holdout: '126', stdScale: '1', ema: '0.999' });
    expect([ok.holdout, ok.settings.stdScale, ok.settings.emaDecay, ok.settings.steps, ok.settings.warmupSteps]).toEqual([126, 1, 0.999, 800, 80]);
    expect(integer('n', ' 7 ')).toBe(7);
    expect(number('x', '3e-4', { min: 0, exclusiveMin: true })).toBe(3e-4);
  });
});
