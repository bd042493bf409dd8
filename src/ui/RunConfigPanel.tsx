// The run form: method (SFT, SOAR or both side by side), the reference trainer's hyper-parameters under their own
// names, presets, inline validation (validateTrainConfig) and SOAR's cost per step relative to SFT (stepCost).
import { useEffect, useMemo, useState, type ReactNode } from 'react';
import { useGpuStore } from '../store/gpu';
import { studio, useStudioStore, type NewRun } from '../store/studio';
import { ATTENTION_TARGETS, MLP_TARGETS } from '../model/lora';
import { COMPARISON_RECIPE } from '../train/recipes';
import { DEFAULT_TRAIN, validateTrainConfig, type TrainConfig } from '../train/config';
import { METHOD_IDS, METHOD_INFOS, methodLabel, stepCost, type Method } from '../train/methods/catalog';
import type { FormField } from '../train/methods/method';
import { loadPref, savePref } from './settings';
import { Section, useTrainingView } from './Section';
import { StartFromField, startableRuns } from './StartFromField';

/** A method of the catalog, or SFT and SOAR side by side (the comparison the studio is for). */
export type MethodChoice = Method | 'both';
const CHOICES: MethodChoice[] = [...METHOD_IDS, 'both'];
const choiceLabel = (m: MethodChoice) => (m === 'both' ? 'SFT + SOAR' : methodLabel(m));
const choiceMethods = (m: MethodChoice): Method[] => (m === 'both' ? ['sft', 'soar'] : [m]);


type SelectKey = 'lr_scheduler' | 'sde_rollout_type' | 'weighting_scheme';

type NumField = FormField;

const MAIN_FIELDS: NumField[] = [
  { key: 'max_train_steps', label: 'Steps' },
  { key: 'train_batch_size', label: 'Batch size' },
  { key: 'learning_rate', label: 'Learning rate', step: 'any' },
  { key: 'lr_warmup_steps', label: 'Warmup steps', hint: 'ignored by the constant schedule' },
  { key: 'rank', label: 'LoRA rank' },
  { key: 'lora_alpha', label: 'LoRA alpha', hint: 'scale = alpha / rank', step: 'any' },
  { key: 'seed', label: 'Seed' },
];

const ADVANCED_FIELDS: NumField[] = [
  { key: 'gradient_accumulation_steps', label: 'Grad accumulation' },
  { key: 'max_grad_norm', label: 'Max grad norm', step: 'any' },
  { key: 'adam_weight_decay', label: 'Weight decay', step: 'any' },
  { key: 'logit_mean', label: 'Logit mean', step: 'any' },
  { key: 'logit_std', label: 'Logit std', step: 'any' },
  { key: 'cond_dropout_rate', label: 'Caption dropout', step: 'any' },
  { key: 'checkpointing_steps', label: 'Checkpoint every', hint: 'steps; also on pause' },
  { key: 'validation_steps', label: 'Validate every', hint: 'steps' },
];

const SELECTS: Record<SelectKey, { label: string; options: string[] }> = {
  lr_scheduler: { label: 'LR schedule', options: ['constant', 'constant_with_warmup', 'cosine'] },
  sde_rollout_type: { label: 'Rollout step type', options: ['simple', 'sde', 'flow_sde', 'cps'] },
  weighting_scheme: { label: 'Timestep weighting', options: ['logit_normal', 'uniform'] },
};

export interface Preset {
  id: string;
  label: string;
  title: string;
  method: MethodChoice;
  config: Partial<TrainConfig>;
}

export const PRESETS: Preset[] = [
  {
    id: 'quick',
    label: 'Quick run (30 steps)',
    title: 'Training settings only (the base stays as loaded): 30 steps, batch 2, K = 2 — a minute with the tiny base, to see every part of the studio work',
    method: 'both',
    config: { max_train_steps: 30, train_batch_size: 2, learning_rate: 2e-3, lr_scheduler: 'constant', lr_warmup_steps: 0, trajectory_length: 2, num_rollout_paths: 1, num_sampling_steps: 10, checkpointing_steps: 10, validation_steps: 10 },
  },
  {
    id: 'comparison',
    label: 'Comparison recipe',
    title: "Training settings only (the base stays as loaded): the first screen's and npm run demo's recipe, 30 steps, batch 4, LoRA rank 8 on attention and MLPs, lr 5e-3, K = 2",
    method: 'both',
    config: COMPARISON_RECIPE,
  },
  {
    id: 'paper',
    label: 'Paper defaults',
    title: "SOAR's hyper-parameters from the reference README (λ = 1, K = 6, P = 1, CFG 4.5, flow_sde, 40 grid steps, weight decay 1e-2, clip 1), with a LoRA learning rate",
    method: 'both',
    config: { ...DEFAULT_TRAIN },
  },
  {
    id: 'long',
    label: 'Long run (2,000 steps)',
    title: '2,000 steps with a cosine schedule: for a real GPU',
    method: 'both',
    config: { max_train_steps: 2000, train_batch_size: 8, learning_rate: 1e-3, lr_scheduler: 'cosine', lr_warmup_steps: 50, checkpointing_steps: 100, validation_steps: 50 },
  },
];

interface FormState {
  method: MethodChoice;
  /** Numbers as typed (so "1e-" can be typed on the way to "1e-4"); parsed into the config. */
  values: Record<string, string>;
  selects: Record<SelectKey, string>;
  targets: string[];
  preset: string | null;
}

/** Each method's own fields: in its group, or under Advanced. */
const METHOD_FIELDS = METHOD_IDS.map((id) => ({ id, fields: METHOD_INFOS[id].formFields.filter((f) => !f.advanced) })).filter((g) => g.fields.length > 0);
const METHOD_ADVANCED = METHOD_IDS.map((id) => ({ id, fields: METHOD_INFOS[id].formFields.filter((f) => f.advanced) })).filter((g) => g.fields.length > 0);
const ALL_NUM: NumField[] = [...MAIN_FIELDS, ...METHOD_FIELDS.flatMap((g) => g.fields), ...ADVANCED_FIELDS, ...METHOD_ADVANCED.flatMap((g) => g.fields)];

export function formFromConfig(method: MethodChoice, c: TrainConfig, preset: string | null): FormState {
  const values: Record<string, string> = {};
  for (const f of ALL_NUM) values[f.key] = String(c[f.key]);
  return { method, values, selects: { lr_scheduler: c.lr_scheduler, sde_rollout_type: c.sde_rollout_type, weighting_scheme: c.weighting_scheme }, targets: [...c.lora_targets], preset };
}

function parseNumber(s: string): number {
  const t = s.trim();
  return t === '' ? NaN : Number(t);
}

/** The config a form describes (method 'both' validates as SOAR: its SFT twin is the same minus the aux loss). */
export function configFromForm(f: FormState, base: TrainConfig = DEFAULT_TRAIN): TrainConfig {
  const c: TrainConfig = { ...base, method: f.method === 'both' ? 'soar' : f.method, lora_targets: [...f.targets] };
  const rec = c as unknown as Record<string, unknown>;
  for (const fl of ALL_NUM) rec[fl.key] = fl.options ? (f.values[fl.key] ?? '') : parseNumber(f.values[fl.key] ?? '');
  rec.lr_scheduler = f.selects.lr_scheduler;
  rec.sde_rollout_type = f.selects.sde_rollout_type;
  rec.weighting_scheme = f.selects.weighting_scheme;
  return c;
}

/** validateTrainConfig's messages by the field they name ("learning_rate must be …" -> learning_rate). */
export function errorsByField(errors: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of errors) {
    const key = /^(\w+)\b/.exec(e)?.[1] ?? '_';
    out[key] = out[key] ? `${out[key]}; ${e}` : e;
  }
  return out;
}

/**
 * The runs Train starts: one per method, the same seed and hyper-parameters, so the curves are comparable.
 * `startFrom`: the finished run a Flow-GRPO run trains on top of.
 */
export function runsFor(method: MethodChoice, config: TrainConfig, counts: Partial<Record<Method, number>>, now = Date.now(), startFrom: string | null = null): NewRun[] {
  const stamp = now.toString(36);
  return choiceMethods(method).map((m) => ({
    id: `run-${stamp}-${m}`,
    name: `${methodLabel(m)} ${(counts[m] ?? 0) + 1}`,
    config: { ...config, method: m },
    ...(m === 'grpo' && startFrom ? { startFrom } : {}),
  }));
}

/** Runs of each method so far (new runs are numbered on from these). */
export function runCounts(runs: ReadonlyArray<{ method: string }>): Partial<Record<Method, number>> {
  const counts: Partial<Record<Method, number>> = {};
  for (const r of runs) if (r.method in METHOD_INFOS) counts[r.method as Method] = (counts[r.method as Method] ?? 0) + 1;
  return counts;
}

const isForm = (v: unknown): v is FormState =>
  typeof v === 'object' && v !== null && 'values' in v && 'selects' in v && Array.isArray((v as FormState).targets) && CHOICES.includes((v as FormState).method);

const QUICK = PRESETS[0];
const initialForm = (): FormState => {
  const defaults = formFromConfig(QUICK.method, { ...DEFAULT_TRAIN, ...QUICK.config }, QUICK.id);
  const stored = loadPref('run-form', defaults, isForm);
  // A form saved by an earlier version lacks the fields added since (a new method's): they take their defaults.
  return { ...stored, values: { ...defaults.values, ...stored.values } };
};

export function RunConfigPanel() {
  const [form, setForm] = useState<FormState>(initialForm);
  const training = useTrainingView();
  useEffect(() => savePref('run-form', form), [form]);
  const gpuPhase = useGpuStore((s) => s.phase);
  const gpuReady = useGpuStore((s) => s.phase === 'ready' && !s.lost);
  const base = useStudioStore((s) => s.base);
  const dataset = useStudioStore((s) => s.dataset);
  const runs = useStudioStore((s) => s.runs);
  const runOrder = useStudioStore((s) => s.runOrder);
  const gpuLost = useStudioStore((s) => s.gpuLost);
  const startable = useMemo(() => startableRuns(runs, runOrder), [runs, runOrder]);
  const [startFrom, setStartFrom] = useState<string | null>(null);
  const startId = startable.some((r) => r.id === startFrom) ? startFrom : null;

  const config = useMemo(() => configFromForm(form), [form]);
  const errors = useMemo(() => validateTrainConfig(config), [config]);
  const byField = errorsByField(errors);
  const cost = stepCost({ ...config, method: 'soar' });

  const blockers: string[] = [];
  if (!gpuReady || gpuLost) {
    blockers.push(gpuLost ? 'the GPU was lost: press Recover above' : gpuPhase === 'unavailable' ? 'no WebGPU here: see the GPU panel' : 'waiting for the GPU');
  }
  if (base.status !== 'ready') blockers.push(base.status === 'error' ? 'the base model failed to load' : 'waiting for the base model');
  if (dataset.status !== 'ready' || !dataset.summary) blockers.push('load a dataset first');
  else if (dataset.summary.count === 0) blockers.push('the dataset has no usable images');
  if (errors.length) blockers.push(`fix ${errors.length} setting${errors.length === 1 ? '' : 's'}`);

  const edit = (patch: Partial<FormState>) => setForm((f) => ({ ...f, ...patch, preset: null }));
  const setValue = (k: string, v: string) => setForm((f) => ({ ...f, values: { ...f.values, [k]: v }, preset: null }));
  const applyPreset = (p: Preset) => setForm(formFromConfig(p.method, { ...DEFAULT_TRAIN, ...p.config }, p.id));

  const train = () => {
    studio.startRuns(runsFor(form.method, config, runCounts(Object.values(runs)), Date.now(), startId), form.method === 'both');
  };

  const selected = choiceMethods(form.method);
  const soarCost = (
    <p className="cost" data-testid="soar-cost" data-relative={cost.relativeToSft.toFixed(2)}>
      {cost.relativeToSft === 1 ? (
        <>With these settings a SOAR step costs the same as an SFT step (no aux states).</>
      ) : (
        <>
          SOAR costs <strong>≈ {cost.relativeToSft.toFixed(1)}×</strong> an SFT step: {cost.forwards} forwards + {cost.backwards} backwards per step,
          against 1 + 1.
          {form.method === 'both' && <> Running both takes ≈ {(1 + cost.relativeToSft).toFixed(1)}× the time of SFT alone.</>}
        </>
      )}
    </p>
  );
  const numInput = (f: NumField) => (
    <Field key={f.key} label={f.label} name={f.key} hint={f.hint} error={byField[f.key]}>
      {f.options ? (
        <select value={form.values[f.key] ?? ''} onChange={(e) => setValue(f.key, e.currentTarget.value)} data-testid={`cfg-${f.key}`}>
          {f.options.map((o) => (
            <option key={o} value={o}>
              {o}
            </option>
          ))}
        </select>
      ) : (
      <input
        type="text"
        inputMode="decimal"
        value={form.values[f.key] ?? ''}
        onChange={(e) => setValue(f.key, e.currentTarget.value)}
        aria-invalid={Boolean(byField[f.key])}
        data-testid={`cfg-${f.key}`}
      />
      )}
    </Field>
  );
  const methodLegend = (id: Method, on: boolean) => (
    <legend>
      {methodLabel(id)} {on ? '' : <span className="muted small">(not used by {selected.map(methodLabel).join(' + ')})</span>}
    </legend>
  );
  const select = (k: SelectKey) => (
    <Field key={k} label={SELECTS[k].label} name={k} error={byField[k]}>
      <select value={form.selects[k]} onChange={(e) => edit({ selects: { ...form.selects, [k]: e.currentTarget.value } })} data-testid={`cfg-${k}`}>
        {SELECTS[k].options.map((o) => (
          <option key={o} value={o}>
            {o}
          </option>
        ))}
      </select>
    </Field>
  );

  return (
    <Section
      id="config"
      title="Run"
      testId="config-panel"
      collapsed={training ? `${choiceLabel(form.method)}, ${form.values.max_train_steps} steps of ${form.values.train_batch_size}, lr ${form.values.learning_rate}` : null}
      aside={<span className="muted small">hyper-parameters use the reference trainer's names</span>}>
      <div className="config-top">
        <div className="segmented" role="radiogroup" aria-label="Method">
          {CHOICES.map((m) => (
            <button
              key={m}
              type="button"
              role="radio"
              aria-checked={form.method === m}
              className={form.method === m ? 'seg seg-on' : 'seg'}
              onClick={() => edit({ method: m })}
              title={m === 'both' ? 'SFT and SOAR side by side, same seed and data' : METHOD_INFOS[m].summary}
              data-testid={`method-${m}`}>
              {choiceLabel(m)}
            </button>
          ))}
        </div>
        <div className="presets">
          <span className="muted small" title="A preset sets the training settings below; the base model is chosen in the Base section">
            Training presets
          </span>
          {PRESETS.map((p) => (
            <button key={p.id} type="button" className={`btn btn-small${form.preset === p.id ? ' btn-on' : ''}`} title={p.title} onClick={() => applyPreset(p)} data-testid={`preset-${p.id}`}>
              {p.label}
            </button>
          ))}
        </div>
      </div>

      <div className="config-groups">
        <fieldset className="group">
          <legend>Training</legend>
          <div className="fields">
            {MAIN_FIELDS.slice(0, 3).map(numInput)}
            {select('lr_scheduler')}
            {MAIN_FIELDS.slice(3).map(numInput)}
          </div>
          <Field label="LoRA targets" name="lora_targets" error={byField.lora_targets} wide>
            <div className="targets" data-testid="cfg-lora_targets">
              {[...ATTENTION_TARGETS, ...MLP_TARGETS].map((t) => (
                <label key={t} className="check">
                  <input
                    type="checkbox"
                    checked={form.targets.includes(t)}
                    onChange={(e) => edit({ targets: e.currentTarget.checked ? [...form.targets, t] : form.targets.filter((x) => x !== t) })}
                  />
                  <code>{t}</code>
                </label>
              ))}
            </div>
          </Field>
        </fieldset>

        {METHOD_FIELDS.map(({ id, fields }) => {
          const on = selected.includes(id);
          return (
            <fieldset key={id} className={`group${on ? '' : ' group-off'}`} disabled={!on} data-testid={`fields-${id}`}>
              {methodLegend(id, on)}
              <div className="fields">
                {fields.map(numInput)}
                {id === 'soar' && select('sde_rollout_type')}
                {id === 'grpo' && <StartFromField runs={startable} value={startId} onChange={setStartFrom} />}
              </div>
              {id === 'soar' && soarCost}
            </fieldset>
          );
        })}
      </div>

      <details className="advanced" data-testid="config-advanced">
        <summary>Advanced</summary>
        <div className="fields">
          {ADVANCED_FIELDS.map(numInput)}
          {select('weighting_scheme')}
        </div>
        {/* A method's advanced fields in its own group, greyed out when the run does not use that method. */}
        {METHOD_ADVANCED.map(({ id, fields }) => {
          const on = selected.includes(id);
          return (
            <fieldset key={id} className={`group${on ? '' : ' group-off'}`} disabled={!on} data-testid={`advanced-${id}`}>
              {methodLegend(id, on)}
              <div className="fields">{fields.map(numInput)}</div>
            </fieldset>
          );
        })}
      </details>

      {errors.length > 0 && (
        <ul className="form-errors" data-testid="config-errors" role="alert">
          {errors.map((e) => (
            <li key={e}>{e}</li>
          ))}
        </ul>
      )}

      <div className="train-row">
        <button type="button" className="btn btn-primary btn-large" data-testid="train" disabled={blockers.length > 0} onClick={train}>
          {`Train ${choiceLabel(form.method)}`}
        </button>
        {blockers.length > 0 ? (
          <span className="muted" data-testid="train-blockers">
            {blockers.join(' · ')}
          </span>
        ) : (
          <span className="muted">
            {config.max_train_steps.toLocaleString('en-US')} steps of batch {config.train_batch_size} on {dataset.summary?.count ?? 0} images
            {form.method === 'both' ? ', SFT and SOAR interleaved step by step' : ''}
            {form.method === 'grpo' && startId ? `, on top of ${runs[startId].name}'s LoRA` : ''}
          </span>
        )}
      </div>
    </Section>
  );
}

function Field({ label, name, hint, error, children, wide }: { label: string; name: string; hint?: string; error?: string; children: ReactNode; wide?: boolean }) {
  // A wide field holds its own labelled controls (checkboxes), so it is a div: labels must not nest.
  const Tag = wide ? 'div' : 'label';
  return (
    <Tag className={`field${error ? ' field-error' : ''}${wide ? ' field-wide' : ''}`} data-field={name}>
      <span className="field-label" title={`${label} (${name})`}>
        {label} <code className="field-name">{name}</code>
      </span>
      {children}
      {error ? (
        <span className="field-msg" data-testid="field-error">
          {error}
        </span>
      ) : hint ? (
        <span className="field-hint">{hint}</span>
      ) : null}
    </Tag>
  );
}
