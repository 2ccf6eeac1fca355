// Route options the project's own plugins read.
import 'fastify'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** False for routes that must answer while requests are shed (health, readiness). */
    shed?: boolean
  }
}
