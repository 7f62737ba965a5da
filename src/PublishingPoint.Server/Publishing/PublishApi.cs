using Microsoft.AspNetCore.Http.HttpResults;
using PublishingPoint.Server.Admin;

namespace PublishingPoint.Server.Publishing;

/// <summary>GET /api/publish: where output is published, the backlog per point and the last store error.</summary>
internal static class PublishApi
{
    public sealed record PublishView(
        string? Target, bool StoreUp, long Backlog, IReadOnlyDictionary<string, long> Points, long Puts, long PutBytes, long Deletes,
        long DeleteFailures, long Failures, long Skipped, string? LastError, DateTimeOffset? LastErrorAt, DateTimeOffset? LastSuccessAt);

    public static void Map(IEndpointRouteBuilder endpoints, string? apiKey)
    {
        var api = endpoints.MapGroup("/api").WithMetadata(new AdminAuthorization(apiKey)).WithTags("Publishing");
        api.MapGet("/publish", Get).WithSummary("Object-storage publishing: target, backlog per point, last store error");
    }

    private static Ok<PublishView> Get(PublishStatus status) =>
        TypedResults.Ok(new PublishView(
            status.Target, status.StoreUp, status.TotalBacklog, new SortedDictionary<string, long>(status.Backlog.ToDictionary(), StringComparer.Ordinal),
            status.Puts, status.PutBytes, status.Deletes, status.DeleteFailures, status.Failures, status.Skipped, status.LastError, status.LastErrorAt, status.LastSuccessAt));
}
