namespace PublishingPoint.Media.IsoBmff;

/// <summary>The bytes are not the ISO-BMFF they claim to be. The message is safe to show to the sender.</summary>
public sealed class InvalidBoxException : FormatException
{
    public InvalidBoxException()
    {
    }

    public InvalidBoxException(string message) : base(message)
    {
    }

    public InvalidBoxException(string message, Exception innerException) : base(message, innerException)
    {
    }

    public static InvalidBoxException For(FourCC type, string problem) => new($"box '{type}': {problem}");
}
