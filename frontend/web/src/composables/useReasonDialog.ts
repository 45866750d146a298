// useReasonDialog: ask for a reason in a dialog, then send it. The reason is trimmed; it is required unless the
// dialog says `optional` (an empty or blank answer keeps the dialog open with `required` as its error). Cancelling
// sends nothing. The caller passes its own (translated) strings and handles the send's errors itself.
//
//   const { withReason, busy } = useReasonDialog();
//   const result = await withReason(
//     { title: t("staff.lot.suspend"), label: t("staff.common.reason"), required: t("staff.common.reasonRequired"),
//       confirm: t("staff.common.confirm"), cancel: t("staff.common.cancel") },
//     (reason) => api.post(`lots/${id}/suspend/`, { reasons: reason }),
//   ); // the send's result, or null when cancelled; `busy` is true while the send runs
//
// `ask(dialog)` alone resolves to the trimmed reason (null when cancelled). In the page the dialog is
// `.el-message-box.reason-dialog`, its input `.reason-dialog input` (or `textarea` when `multiline`).
import { ElMessageBox } from "element-plus";
import { ref } from "vue";

export interface ReasonDialog {
  /** The dialog's title, usually the action's label. */
  title: string;
  /** The text above the input ("暂停理由"). */
  label: string;
  /** The error shown while the reason is empty or blank. */
  required: string;
  /** An empty reason is accepted (sent as ""). */
  optional?: boolean;
  /** A textarea instead of one line. */
  multiline?: boolean;
  placeholder?: string;
  /** The longest reason accepted, with `tooLong` as the error. */
  maxLength?: number;
  tooLong?: string;
  confirm?: string;
  cancel?: string;
}

/** The dialog's check of one answer: true, or the error to show. */
export function checkReason(value: string | null | undefined, dialog: Pick<ReasonDialog, "required" | "optional" | "maxLength" | "tooLong">): true | string {
  const reason = (value ?? "").trim();
  if (!reason && !dialog.optional) return dialog.required;
  if (dialog.maxLength !== undefined && reason.length > dialog.maxLength) return dialog.tooLong ?? dialog.required;
  return true;
}

type Prompt = (message: string, title: string, options: Record<string, unknown>) => Promise<{ value: string } | unknown>;

export function useReasonDialog(prompt: Prompt = ElMessageBox.prompt as unknown as Prompt) {
  const busy = ref(false);

  async function ask(dialog: ReasonDialog): Promise<string | null> {
    let answer: unknown;
    try {
      answer = await prompt(dialog.label, dialog.title, {
        inputType: dialog.multiline ? "textarea" : "text",
        inputPlaceholder: dialog.placeholder,
        inputValidator: (value: string) => checkReason(value, dialog),
        confirmButtonText: dialog.confirm,
        cancelButtonText: dialog.cancel,
        customClass: "reason-dialog",
        closeOnClickModal: false,
      });
    } catch {
      return null; // cancelled or closed
    }
    const value = (answer as { value?: string | null } | null)?.value;
    const reason = (value ?? "").trim();
    return checkReason(reason, dialog) === true ? reason : null;
  }

  async function withReason<T>(dialog: ReasonDialog, send: (reason: string) => Promise<T>): Promise<T | null> {
    const reason = await ask(dialog);
    if (reason === null) return null;
    busy.value = true;
    try {
      return await send(reason);
    } finally {
      busy.value = false;
    }
  }

  return { ask, withReason, busy };
}
