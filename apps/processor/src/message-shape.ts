/** The processor's id and PEM checks now live with the other field readers in `@sigillum/contracts` (readers/shape.ts). */
export { id, pem } from '@sigillum/contracts';
