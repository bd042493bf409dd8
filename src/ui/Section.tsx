// A titled panel of the studio, with an error boundary: a component that throws shows what happened in its own
// panel and the rest of the studio keeps working.
import { Component, useState, type ErrorInfo, type ReactNode } from 'react';
import { useStudioStore, type Problem } from '../store/studio';

interface SectionProps {
  id: string;
  title: string;
  /** Right of the title: a status badge, a summary. */
  aside?: ReactNode;
  children: ReactNode;
  testId?: string;
  className?: string;
  /**
   * While set, the panel folds to its head and this one-line summary (a Show button unfolds it). The content
   * stays mounted, only hidden, so nothing typed into it is lost. The training view folds setup panels.
   */
  collapsed?: ReactNode;
}

export function Section({ id, title, aside, children, testId, className, collapsed }: SectionProps) {
  const [open, setOpen] = useState(false);
  const folded = collapsed !== undefined && collapsed !== null && !open;
  return (
    <section className={`panel ${className ?? ''}${folded ? ' panel-folded' : ''}`} id={id} aria-labelledby={`${id}-title`} data-testid={testId ?? `section-${id}`} data-folded={folded}>
      <div className="panel-head">
        <h2 id={`${id}-title`}>{title}</h2>
        {folded ? <span className="fold-summary muted small" data-testid={`${id}-folded-summary`}>{collapsed}</span> : aside}
        {collapsed !== undefined && collapsed !== null && (
          <button type="button" className="btn btn-small fold-toggle" aria-expanded={!folded} onClick={() => setOpen(!open)} data-testid={`${id}-fold`}>
            {folded ? 'Show' : 'Fold'}
          </button>
        )}
      </div>
      <div hidden={folded}>
        <Boundary where={title}>{children}</Boundary>
      </div>
    </section>
  );
}

/** True while any run trains: the page switches to its training view (App) and folds the setup panels. */
export function useTrainingView(): boolean {
  return useStudioStore((s) => Object.values(s.runs).some((r) => r.status === 'running'));
}

interface BoundaryState {
  error: Error | null;
}

export class Boundary extends Component<{ where: string; children: ReactNode }, BoundaryState> {
  override state: BoundaryState = { error: null };

  static getDerivedStateFromError(error: unknown): BoundaryState {
    return { error: error instanceof Error ? error : new Error(String(error)) };
  }

  override componentDidCatch(_error: unknown, _info: ErrorInfo): void {
    // Shown in the panel (render below); nothing else to do.
  }

  override render() {
    if (!this.state.error) return this.props.children;
    return (
      <ProblemNotice
        testId="ui-error"
        title={`This part of the studio (${this.props.where}) failed to display.`}
        problem={{
          message: this.state.error.message,
          advice: 'The rest of the studio still works and your runs keep training. Try again; if it happens again, reload the page (runs resume from their last checkpoint).',
        }}
        action={{ label: 'Try again', onClick: () => this.setState({ error: null }) }}
      />
    );
  }
}

interface NoticeProps {
  title: string;
  problem: Problem;
  testId?: string;
  kind?: 'error' | 'warn';
  action?: { label: string; onClick: () => void };
  onDismiss?: () => void;
}

/** What happened, and what to do: every error the studio shows goes through this. */
export function ProblemNotice({ title, problem, testId, kind = 'error', action, onDismiss }: NoticeProps) {
  return (
    <div className={`notice notice-flex notice-${kind}`} role="alert" data-testid={testId}>
      <div className="notice-body">
        <strong className="notice-title">{title}</strong> <span data-role="message">{problem.message}</span>
        {problem.advice && (
          <p className="notice-advice" data-role="advice">
            <strong>What to do: </strong>
            {problem.advice}
          </p>
        )}
      </div>
      {(action || onDismiss) && (
        <div className="notice-actions">
          {action && (
            <button type="button" className="btn btn-small" onClick={action.onClick}>
              {action.label}
            </button>
          )}
          {onDismiss && (
            <button type="button" className="btn btn-small btn-ghost" onClick={onDismiss} aria-label="Dismiss">
              Dismiss
            </button>
          )}
        </div>
      )}
    </div>
  );
}
