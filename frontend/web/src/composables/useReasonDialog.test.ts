import { describe, expect, it, vi } from "vitest";

vi.mock("element-plus", () => ({ ElMessageBox: { prompt: vi.fn() } }));

import { checkReason, useReasonDialog } from "./useReasonDialog";

const dialog = { title: "暂停评标", label: "暂停理由", required: "请填写理由" };

describe("checkReason", () => {
  it("requires a reason that is not blank", () => {
    expect(checkReason("", dialog)).toBe("请填写理由");
    expect(checkReason("  \n ", dialog)).toBe("请填写理由");
    expect(checkReason(null, dialog)).toBe("请填写理由");
    expect(checkReason(" 网络故障 ", dialog)).toBe(true);
  });

  it("accepts an empty reason when optional, and checks the length after trimming", () => {
    expect(checkReason("", { ...dialog, optional: true })).toBe(true);
    expect(checkReason("  abc  ", { ...dialog, maxLength: 3, tooLong: "太长" })).toBe(true);
    expect(checkReason("abcd", { ...dialog, maxLength: 3, tooLong: "太长" })).toBe("太长");
  });
});

describe("useReasonDialog", () => {
  it("sends the trimmed reason and reports busy while sending", async () => {
    const prompt = vi.fn().mockResolvedValue({ value: "  副场视频中断  ", action: "confirm" });
    const { withReason, busy } = useReasonDialog(prompt);
    const seen: boolean[] = [];
    const result = await withReason(dialog, async (reason) => {
      seen.push(busy.value);
      return `sent:${reason}`;
    });
    expect(result).toBe("sent:副场视频中断");
    expect(seen).toEqual([true]);
    expect(busy.value).toBe(false);
    const [message, title, options] = prompt.mock.calls[0];
    expect([message, title, options.customClass, options.inputType]).toEqual(["暂停理由", "暂停评标", "reason-dialog", "text"]);
    expect(options.inputValidator("  ")).toBe("请填写理由");
    expect(options.inputValidator("x")).toBe(true);
  });

  it("sends nothing when cancelled", async () => {
    const prompt = vi.fn().mockRejectedValue("cancel");
    const send = vi.fn();
    expect(await useReasonDialog(prompt).withReason(dialog, send)).toBeNull();
    expect(send).not.toHaveBeenCalled();
  });

  it("never sends a blank required reason, even if the dialog let it through", async () => {
    const send = vi.fn();
    expect(await useReasonDialog(vi.fn().mockResolvedValue({ value: "   " })).withReason(dialog, send)).toBeNull();
    expect(send).not.toHaveBeenCalled();
  });

  it("sends an empty optional reason as an empty string, and lets the send's error through", async () => {
    const prompt = vi.fn().mockResolvedValue({ value: null });
    const { withReason, busy } = useReasonDialog(prompt);
    const send = vi.fn().mockRejectedValue(new Error("refused"));
    await expect(withReason({ ...dialog, optional: true, multiline: true }, send)).rejects.toThrow("refused");
    expect(send).toHaveBeenCalledWith("");
    expect(busy.value).toBe(false);
    expect(prompt.mock.calls[0][2].inputType).toBe("textarea");
  });
});
