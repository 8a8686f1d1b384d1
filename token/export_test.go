package token

// CachedTokens reports how many verified tokens c remembers.
func CachedTokens(c *Codec) int { return c.cache.len() }
