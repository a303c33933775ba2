/**
 * Kopa API example client, typed end to end from openapi/openapi.json (see ./kopa.d.ts).
 *
 * It walks through four calls and doubles as a smoke test for CI:
 *   1. lists projects with their partners embedded,
 *   2. creates an organisation (expects 201),
 *   3. sends an invalid organisation and prints the problem+json it gets back (expects 422),
 *   4. deletes the organisation it created, so it can be run again and again (expects 204).
 *
 * Environment:
 *   KOPA_URL    base URL of the API (default http://127.0.0.1:8080)
 *   KOPA_TOKEN  optional; sent as `Authorization: Bearer <token>` when set
 *
 * Exit code 0 when every call answered as the API contract says, 1 otherwise.
 */
import createClient from "openapi-fetch";

import type { components, paths } from "./kopa.js";

type Organisation = components["schemas"]["Organisation"];
type OrganisationInput = components["schemas"]["OrganisationInput"];
type Problem = components["schemas"]["Problem"];
type ListProjectsQuery = NonNullable<paths["/v1/projects"]["get"]["parameters"]["query"]>;

const baseUrl = process.env.KOPA_URL ?? "http://127.0.0.1:8080";
const token = process.env.KOPA_TOKEN;

const kopa = createClient<paths>({
  baseUrl,
  // The spec's `bearer` scheme: reads work without a key, writes (the organisation below)
  // need one with the `admin` scope (`kopa keys create --scope admin`).
  headers: token ? { Authorization: `Bearer ${token}` } : {},
});

/** The API answered, but not the way the contract (and so this example) expects. */
class UnexpectedResponse extends Error {
  constructor(step: string, expected: string, response: Response, problem?: Problem) {
    const because = problem ? `: ${problem.title}: ${problem.detail}` : "";
    super(`${step}: expected ${expected}, got HTTP ${response.status}${because}`);
    this.name = "UnexpectedResponse";
  }
}

/** Prints an RFC 9457 problem document the way a client would show it to a person. */
function printProblem(problem: Problem): void {
  console.log(`  status: ${problem.status}`);
  console.log(`  title:  ${problem.title}`);
  console.log(`  detail: ${problem.detail}`);
  // `errors` is optional: the server leaves it out when no single field is to blame.
  for (const fieldError of problem.errors ?? []) {
    console.log(`  - ${fieldError.field}: ${fieldError.message} [${fieldError.code}]`);
  }
}

/** 1. GET /v1/projects with each project's partners embedded (`include=partners`). */
async function listProjectsWithPartners(): Promise<void> {
  // The query is declared with its own type because openapi-fetch infers the init argument
  // generically and so does not flag unknown keys in an inline `params.query` literal.
  const query: ListProjectsQuery = { limit: 5, include: "partners" };
  const { data, error, response } = await kopa.GET("/v1/projects", { params: { query } });
  if (error) {
    throw new UnexpectedResponse("GET /v1/projects", "200", response, error);
  }

  const more = data.next_cursor ? " (more pages available)" : "";
  console.log(`GET /v1/projects?limit=5&include=partners -> ${response.status}, ${data.data.length} project(s)${more}`);
  for (const project of data.data) {
    console.log(`  ${project.id}  [${project.status}]  ${project.title_en ?? project.title}`);
    for (const partner of project.partners ?? []) {
      console.log(`      partner ${partner.organisation?.name ?? partner.organisation_id} as ${partner.role}`);
    }
  }
}

/** 2. POST /v1/organisations with a valid body; expects 201 Created. */
async function createOrganisation(): Promise<{ organisation: Organisation; etag: string | null }> {
  const input: OrganisationInput = {
    // Names are unique, so make this one unique per run.
    name: `Kopa example client ${new Date().toISOString()}`,
    kind: "ngo", // a code from GET /v1/vocabularies/organisation_kinds
    country: "LV",
    website: "https://example.org",
  };
  const { data, error, response } = await kopa.POST("/v1/organisations", { body: input });
  if (error || response.status !== 201) {
    throw new UnexpectedResponse("POST /v1/organisations", "201", response, error);
  }

  console.log(`POST /v1/organisations -> ${response.status}`);
  console.log(`  id:       ${data.id} (version ${data.version})`);
  console.log(`  name:     ${data.name}`);
  console.log(`  location: ${response.headers.get("Location") ?? "(no Location header)"}`);
  return { organisation: data, etag: response.headers.get("ETag") };
}

/** 3. POST /v1/organisations with a body that breaks rules; expects a 422 problem. */
async function createInvalidOrganisation(): Promise<void> {
  // Type-correct but invalid: the name must not be empty and the country must be upper case.
  const input: OrganisationInput = { name: "", kind: "ngo", country: "lv" };
  const { error, response } = await kopa.POST("/v1/organisations", { body: input });
  if (!error) {
    throw new UnexpectedResponse("POST /v1/organisations (invalid body)", "422", response);
  }

  console.log(`POST /v1/organisations (empty name, lower-case country) -> ${response.status}`);
  printProblem(error);
  if (response.status !== 422) {
    throw new UnexpectedResponse("POST /v1/organisations (invalid body)", "422", response, error);
  }
  if (!error.errors?.some((fieldError) => fieldError.field === "name")) {
    throw new Error("POST /v1/organisations (invalid body): the 422 did not name the `name` field");
  }
}

/** 4. DELETE /v1/organisations/{id}, guarded by the ETag from the create; expects 204. */
async function deleteOrganisation(organisation: Organisation, etag: string | null): Promise<void> {
  const { error, response } = await kopa.DELETE("/v1/organisations/{id}", {
    params: {
      path: { id: organisation.id },
      header: etag ? { "If-Match": etag } : {},
    },
  });
  if (error || response.status !== 204) {
    throw new UnexpectedResponse(`DELETE /v1/organisations/${organisation.id}`, "204", response, error);
  }
  console.log(`DELETE /v1/organisations/${organisation.id} -> ${response.status}`);
}

console.log(`Kopa at ${baseUrl}${token ? " (with bearer token)" : ""}\n`);
try {
  await listProjectsWithPartners();
  console.log();
  const { organisation, etag } = await createOrganisation();
  console.log();
  try {
    await createInvalidOrganisation();
  } finally {
    console.log();
    await deleteOrganisation(organisation, etag);
  }
  console.log("\nOK: every call answered as the contract says.");
} catch (err) {
  const cause = err instanceof Error && err.cause !== undefined ? ` (cause: ${String(err.cause)})` : "";
  console.error(`\nFAILED: ${err instanceof Error ? err.message : String(err)}${cause}`);
  process.exitCode = 1;
}
