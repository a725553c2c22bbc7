// Four gateway processes share one coordinator process, each sending it its
// own messages: tests/support/multi-process.mjs says what must hold.
import { multiProcessTests } from "../support/multi-process.mjs";

multiProcessTests();
