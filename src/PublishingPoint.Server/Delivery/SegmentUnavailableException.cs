namespace PublishingPoint.Server.Delivery;

/// <summary>
/// A segment cannot be answered now: the segments in memory (most held by answers still being sent) already take twice
/// the cache's size and there is no spool to keep it on disk, or it left the cache (evicted by others) each time before
/// it could be sent. Answered with 503 and Retry-After.
/// </summary>
internal sealed class SegmentUnavailableException : Exception
{
    public SegmentUnavailableException()
        : base("segments held in memory by answers still being sent are at twice PublishingPoint:SegmentCacheMegabytes")
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
