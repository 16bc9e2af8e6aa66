/** Types of net.js (plain JavaScript, shared with the jest global setup). */
export declare function freePort(): Promise<number>;
export declare function portAnswers(address: string, timeoutMs?: number): Promise<boolean>;
