#pragma once
// Internal: the long-poll fetches waiting for data, so Server::Stop can cancel them.

namespace ec::kafka {

struct FetchWaitRegistry;
FetchWaitRegistry* NewFetchWaitRegistry();
void DeleteFetchWaitRegistry(FetchWaitRegistry* r);
// Cancels every waiting fetch (without answering it); runs each cancel on its own thread.
void CancelAllFetchWaits(FetchWaitRegistry* r);

}  // namespace ec::kafka
