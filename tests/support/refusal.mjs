// What an SDK call that must fail threw: the SDK's error, with the HTTP answer's
// status, headers and body, for the test to check.
import assert from "node:assert/strict";

export async function refusal(request) {
  try {
    await request;
  } catch (error) {
    return error;
  }
  assert.fail("expected an error");
}
