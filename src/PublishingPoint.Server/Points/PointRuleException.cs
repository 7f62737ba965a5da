namespace PublishingPoint.Server.Points;

/// <summary>
/// A request that breaks a rule of the point it addresses (malformed or out-of-bounds media, a limit reached, a name or
/// range that does not exist): refused with this HTTP status and a message safe to send back.
/// </summary>
public sealed class PointRuleException : Exception
{
    public PointRuleException()
    {
    }

    public PointRuleException(string message) : base(message)
    {
    }

    public PointRuleException(string message, Exception innerException) : base(message, innerException)
    {
    }

    public PointRuleException(int statusCode, string message) : base(message) => StatusCode = statusCode;

    public int StatusCode { get; } = StatusCodes.Status400BadRequest;

    /// <summary>The refusal of a stream whose tracks cannot be named or described.</summary>
    public static PointRuleException From(PublishingPoint.Media.Tracks.TrackRejectedException rejected)
    {
        ArgumentNullException.ThrowIfNull(rejected);
        var status = rejected.Reason switch
        {
            PublishingPoint.Media.Tracks.TrackRejection.Conflict => StatusCodes.Status409Conflict,
            PublishingPoint.Media.Tracks.TrackRejection.Unsupported => StatusCodes.Status415UnsupportedMediaType,
            _ => StatusCodes.Status400BadRequest,
        };
        return new PointRuleException(status, rejected.Message);
    }
}
