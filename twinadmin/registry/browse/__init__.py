"""The vector browser: a namespace's ids page by page, one vector's metadata and values made
readable. Reads only; every index call goes through the vector layer."""
