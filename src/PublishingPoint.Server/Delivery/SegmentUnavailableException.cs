namespace PublishingPoint.Server.Delivery;

/// <summary>
/// A segment cannot be answered now: it left the cache (evicted by others) each time before it could be sent.
/// Answered with 503 and Retry-After.
/// </summary>
internal sealed class SegmentUnavailableException : Exception
{
    public SegmentUnavailableException()
        : base("the segment left the cache each time before it could be sent")
    {
    }

    public SegmentUnavailableException(string message)
        : base(message)
    {
    }

    public SegmentUnavailableException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
