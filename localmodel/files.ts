/**
 * `/v1/files`: uploads (multipart, as the `openai` client sends them), listing, metadata, content and deletion.
 * Files are stored as uploaded; a fine-tuning job checks a training file's format when it starts, and reports
 * what is wrong in the job's `error`.
 */
import type { FileObject } from 'openai/resources/files';
import { ApiError, badRequest, cursorPage, notFound, queryLimit } from './http.js';
import type { DataDir } from './store.js';
import { newId, nowSeconds } from './store.js';

const PURPOSES = ['assistants', 'batch', 'fine-tune', 'vision', 'user_data', 'evals'] as const;

export class FileStore {
  private readonly files = new Map<string, FileObject>();

  constructor(private readonly dir: DataDir) {
    for (const name of dir.list('files', '.json')) {
      const file = dir.readJson<FileObject>(`files/${name}`);
      this.files.set(file.id, file);
    }
  }

  /** Parses a multipart upload (`file` and `purpose` fields) and stores it. */
  async upload(contentType: string | undefined, body: Buffer): Promise<FileObject> {
    if (!contentType?.toLowerCase().startsWith('multipart/form-data')) {
      throw new ApiError(400, "Uploads must be multipart/form-data with fields 'file' and 'purpose'.", 'file', 'invalid_content_type');
    }
    let form: FormData;
    try {
      form = await new Request('http://localmodel/upload', { method: 'POST', headers: { 'content-type': contentType }, body }).formData();
    } catch (err) {
      throw new ApiError(400, `Could not read the multipart body: ${(err as Error).message}.`, 'file', 'invalid_multipart');
    }
    const purpose = form.get('purpose');
    if (typeof purpose !== 'string' || purpose === '') throw new ApiError(400, "Missing required parameter: 'purpose'.", 'purpose', 'missing_required_parameter');
    if (!(PURPOSES as readonly string[]).includes(purpose)) {
      throw badRequest('purpose', `Invalid 'purpose': '${purpose}'; expected one of ${PURPOSES.join(', ')}.`);
    }
    const file = form.get('file');
    if (file === null || typeof file === 'string') {
      throw new ApiError(400, "Missing required parameter: 'file' (send it as a file part of the form).", 'file', 'missing_required_parameter');
    }
    const bytes = Buffer.from(await file.arrayBuffer());
    return this.create(file.name || 'upload', purpose as FileObject['purpose'], bytes);
  }

  create(filename: string, purpose: FileObject['purpose'], bytes: Buffer): FileObject {
    const id = newId('file');
    const file: FileObject = { id, object: 'file', bytes: bytes.length, created_at: nowSeconds(), filename, purpose, status: 'processed' };
    this.dir.writeBytes(`files/${id}.data`, bytes);
    this.dir.writeJson(`files/${id}.json`, file);
    this.files.set(id, file);
    return file;
  }

  get(id: string, param: string | null = null): FileObject {
    const file = this.files.get(id);
    if (!file) throw notFound('file', id, param);
    return file;
  }

  content(id: string, param: string | null = null): Buffer {
    this.get(id, param);
    return this.dir.readBytes(`files/${id}.data`);
  }

  delete(id: string): { id: string; object: 'file'; deleted: true } {
    this.get(id);
    this.dir.remove(`files/${id}.json`);
    this.dir.remove(`files/${id}.data`);
    this.files.delete(id);
    return { id, object: 'file', deleted: true };
  }

  /** `GET /v1/files`: newest first unless `order=asc`; `purpose`, `after` and `limit` filters. */
  list(query: URLSearchParams) {
    const order = query.get('order') ?? 'desc';
    if (order !== 'asc' && order !== 'desc') throw badRequest('order', `Invalid 'order': '${order}'; expected 'asc' or 'desc'.`);
    const purpose = query.get('purpose');
    const sorted = [...this.files.values()]
      .filter((f) => !purpose || f.purpose === purpose)
      .sort((a, b) => a.id.localeCompare(b.id));
    if (order === 'desc') sorted.reverse();
    return cursorPage(sorted, query.get('after'), queryLimit(query, 10_000, 10_000));
  }
}
