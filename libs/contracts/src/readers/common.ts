import { among, text } from './shape';
import { PROCESSING_STEPS } from '../trust/correspondence-kinds';

/** Checks shared by several categories' tables. */
export const Step = among(PROCESSING_STEPS);
/** A level of the level policy's scale (data, not an enum): the AsyncAPI `TrustLevel`. */
export const TrustLevelName = text(64);
/** A configured kind of correspondence: the AsyncAPI `CorrespondenceKindName`. */
export const KindName = text(64);
export const Consignment = among(['basic', 'consent']);
