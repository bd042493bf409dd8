// The run form: method (SFT, SOAR or both side by side), the reference trainer's hyper-parameters under their own
// names, presets, inline validation (validateTrainConfig) and SOAR's cost per step relative to SFT (stepCost).
import { useEffect, useMemo, useState, type ReactNode } from 'react';
import { useGpuStore } from '../store/gpu';
import { studio, useStudioStore, type NewRun } from '../store/studio';
import { COMPARISON_RECIPE } from '../train/recipes';
import { DEFAULT_TRAIN, stepCost, validateTrainConfig, type TrainConfig } from '../train/config';
import { loadPref, savePref } from './settings';
import { Section, useTrainingView } from './Section';

export type MethodChoice = 'sft' | 'soar' | 'both';

/** LoRA target modules; the same lists as src/model/lora.ts (kept apart so the page does not load model code;
 *  test/ui/run-form.test.ts checks they agree). */
export const ATTENTION_TARGETS = ['attn.to_q', 'attn.to_k', 'attn.to_v', 'attn.to_out.0', 'attn.add_q_proj', 'attn.add_k_proj', 'attn.add_v_proj', 'attn.to_add_out'];
export const MLP_TARGETS = ['ff.net.0.proj', 'ff.net.2', 'ff_context.net.0.proj', 'ff_context.net.2'];

type NumKey = {
  [K in keyof TrainConfig]: TrainConfig[K] extends number ? K : never;
}[keyof TrainConfig];
type SelectKey = 'lr_scheduler' | 'sde_rollout_type' | 'weighting_scheme';

interface NumField {
  key: NumKey;
  label: string;
  hint?: string;
  step?: string;
}

const MAIN_FIELDS: NumField[] = [
  { key: 'max_train_steps', label: 'Steps' },
  { key: 'train_batch_size', label: 'Batch size' },
  { key: 'learning_rate', label: 'Learning rate', step: 'any' },
  { key: 'lr_warmup_steps', label: 'Warmup steps', hint: 'ignored by the constant schedule' },
  { key: 'rank', label: 'LoRA rank' },
  { key: 'lora_alpha', label: 'LoRA alpha', hint: 'scale = alpha / rank', step: 'any' },
  { key: 'seed', label: 'Seed' },
];

const SOAR_FIELDS: NumField[] = [
  { key: 'lambda_aux', label: 'λ, aux weight', hint: '0 reproduces SFT', step: 'any' },
  { key: 'trajectory_length', label: 'K, re-noisings', hint: 'aux states per sample' },
  { key: 'num_rollout_paths', label: 'P, rollout paths', hint: '> 1 uses the stochastic step' },
  { key: 'cfg_scale_sampling', label: 'Rollout CFG', step: 'any' },
];

const ADVANCED_FIELDS: NumField[] = [
  { key: 'gradient_accumulation_steps', label: 'Grad accumulation' },
  { key: 'max_grad_norm', label: 'Max grad norm', step: 'any' },
  { key: 'adam_weight_decay', label: 'Weight decay', step: 'any' },
  { key: 'num_sampling_steps', label: 'Rollout grid steps', hint: 'sigma grid of the rollout step' },
  { key: 'sde_noise_scale', label: 'SDE noise scale', step: 'any' },
  { key: 'aux_micro_batch', label: 'Aux micro-batch', hint: '0 = all at once; lower saves memory' },
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

const ALL_NUM: NumField[] = [...MAIN_FIELDS, ...SOAR_FIELDS, ...ADVANCED_FIELDS];

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
  const c: TrainConfig = { ...base, method: f.method === 'sft' ? 'sft' : 'soar', lora_targets: [...f.targets] };
  const rec = c as unknown as Record<string, unknown>;
  for (const fl of ALL_NUM) rec[fl.key] = parseNumber(f.values[fl.key] ?? '');
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

/** The runs Train starts: one per method, the same seed and hyper-parameters, so the curves are comparable. */
export function runsFor(method: MethodChoice, config: TrainConfig, counts: { sft: number; soar: number }, now = Date.now()): NewRun[] {
  const methods: Array<'sft' | 'soar'> = method === 'both' ? ['sft', 'soar'] : [method];
  const stamp = now.toString(36);
  return methods.map((m) => ({ id: `run-${stamp}-${m}`, name: `${m.toUpperCase()} ${counts[m] + 1}`, config: { ...config, method: m } }));
}

const isForm = (v: unknown): v is FormState =>
  typeof v === 'object' && v !== null && 'values' in v && 'selects' in v && Array.isArray((v as FormState).targets) && ['sft', 'soar', 'both'].includes((v as FormState).method);

const QUICK = PRESETS[0];
const initialForm = () => loadPref('run-form', formFromConfig(QUICK.method, { ...DEFAULT_TRAIN, ...QUICK.config }, QUICK.id), isForm);

export function RunConfigPanel() {
  const [form, setForm] = useState<FormState>(initialForm);
  const training = useTrainingView();
  useEffect(() => savePref('run-form', form), [form]);
  const gpuPhase = useGpuStore((s) => s.phase);
  const gpuReady = useGpuStore((s) => s.phase === 'ready' && !s.lost);
  const base = useStudioStore((s) => s.base);
  const dataset = useStudioStore((s) => s.dataset);
  const runs = useStudioStore((s) => s.runs);
  const gpuLost = useStudioStore((s) => s.gpuLost);

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
    const all = Object.values(runs);
    const counts = { sft: all.filter((r) => r.method === 'sft').length, soar: all.filter((r) => r.method === 'soar').length };
    studio.startRuns(runsFor(form.method, config, counts), form.method === 'both');
  };

  const soarOn = form.method !== 'sft';
  const numInput = (f: NumField) => (
    <Field key={f.key} label={f.label} name={f.key} hint={f.hint} error={byField[f.key]}>
      <input
        type="text"
        inputMode="decimal"
        value={form.values[f.key] ?? ''}
        onChange={(e) => setValue(f.key, e.currentTarget.value)}
        aria-invalid={Boolean(byField[f.key])}
        data-testid={`cfg-${f.key}`}
      />
    </Field>
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
      collapsed={training ? `${form.method === 'both' ? 'SFT + SOAR' : form.method.toUpperCase()}, ${form.values.max_train_steps} steps of ${form.values.train_batch_size}, lr ${form.values.learning_rate}` : null}
      aside={<span className="muted small">hyper-parameters use the reference trainer's names</span>}>
      <div className="config-top">
        <div className="segmented" role="radiogroup" aria-label="Method">
          {(['sft', 'soar', 'both'] as const).map((m) => (
            <button key={m} type="button" role="radio" aria-checked={form.method === m} className={form.method === m ? 'seg seg-on' : 'seg'} onClick={() => edit({ method: m })} data-testid={`method-${m}`}>
              {m === 'both' ? 'SFT + SOAR' : m.toUpperCase()}
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

        <fieldset className={`group${soarOn ? '' : ' group-off'}`} disabled={!soarOn}>
          <legend>SOAR {soarOn ? '' : <span className="muted small">(not used by SFT)</span>}</legend>
          <div className="fields">
            {SOAR_FIELDS.map(numInput)}
            {select('sde_rollout_type')}
          </div>
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
        </fieldset>
      </div>

      <details className="advanced" data-testid="config-advanced">
        <summary>Advanced</summary>
        <div className="fields">
          {ADVANCED_FIELDS.map(numInput)}
          {select('weighting_scheme')}
        </div>
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
          {form.method === 'both' ? 'Train SFT + SOAR' : `Train ${form.method.toUpperCase()}`}
        </button>
        {blockers.length > 0 ? (
          <span className="muted" data-testid="train-blockers">
            {blockers.join(' · ')}
          </span>
        ) : (
          <span className="muted">
            {config.max_train_steps.toLocaleString('en-US')} steps of batch {config.train_batch_size} on {dataset.summary?.count ?? 0} images
            {form.method === 'both' ? ', SFT and SOAR interleaved step by step' : ''}
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
