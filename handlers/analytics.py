"""Example batch handler: one job per polled batch of page views (route `batch: true`)."""


def record_views(params_list):
    pages = {}
    for view in params_list:
        page = view.get("page", "?") if isinstance(view, dict) else "?"
        pages[page] = pages.get(page, 0) + 1
    line = f"page views batch of {len(params_list)}: {pages}"
    print(line, flush=True)
    return line
