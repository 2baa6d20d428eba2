interface PaginationProps {
  page: number;
  hasPrevious: boolean;
  hasNext: boolean;
  onPageChange: (page: number) => void;
  /** What is being paged, for the navigation's accessible name, e.g. "Projects". */
  label: string;
}

export function Pagination({ page, hasPrevious, hasNext, onPageChange, label }: PaginationProps) {
  if (!hasPrevious && !hasNext) return null;
  return (
    <nav className="pagination" aria-label={`${label} pages`}>
      <button type="button" className="button" disabled={!hasPrevious} onClick={() => onPageChange(page - 1)}>
        Previous page
      </button>
      <span className="pagination__current">
        Page {page}
      </span>
      <button type="button" className="button" disabled={!hasNext} onClick={() => onPageChange(page + 1)}>
        Next page
      </button>
    </nav>
  );
}
