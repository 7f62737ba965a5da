namespace PublishingPoint.Server.Delivery;

/// <summary>
/// A segment could not be produced: the segments in memory (most held by answers still being sent) already take twice
/// the cache's size, and there is no spool to keep it on disk. Answered with 503 and Retry-After.
/// </summary>
internal sealed class SegmentMemoryFullException : Exception
{
    public SegmentMemoryFullException()
        : base("segments held in memory by answers still being sent are at twice PublishingPoint:SegmentCacheMegabytes")
    {
    }

    public SegmentMemoryFullException(string message)
        : base(message)
    {
    }

    public SegmentMemoryFullException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
